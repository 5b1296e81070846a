"""Property: both optimizers are the paper's recursion, over the whole valid domain.

Hypothesis draws (learning_rate, alpha, beta) from ``domain.py`` (the singular points drawn
on purpose), the options, constant or scheduled values passed as Python floats or traced by
``inject_hyperparams`` (one formula either way: ``test_same_bits.py``), and random
quadratics. Each run is compared with ``tests/reference.py``, a NumPy transcription of the
paper's (theta, psi) equations that shares no code with the package:

* float64: relative trajectory deviation <= 1e-10;
* float32 and bfloat16 params: deviation from the reference at most ``LOW_PRECISION_FACTOR``
  times that of the same transcription run in that dtype (the largest of three runs whose
  starts differ by one unit of roundoff: ``low_precision_yardstick``), plus a few units of
  roundoff for runs the transcription happens to get exact.

Settings where the recursion itself blows up (the float64 reference leaves a ball of
radius 1e3, or the low-precision transcription loses all digits) are filtered by the
reference, never by the code under test. Profiles (``tests/conftest.py``):
``HYPOTHESIS_PROFILE=ci`` (the default: a fixed seed, 40 examples per test) and
``HYPOTHESIS_PROFILE=thorough`` (5,000 per test: 10^4 per property, for a release).
"""

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest
from domain import hyperparameters, quadratics
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import indian_reference, rms_scaled

import indian_optax

pytestmark = pytest.mark.slow  # hypothesis at length (tests/conftest.py profiles)

STEPS = 20
FLOAT64_TOLERANCE = 1e-10
LOW_PRECISION_FACTOR = 4.0
"""Ours in float32/bfloat16 deviates at most this many times as much as the transcription
(both optimizers keep the small phi)."""
ROUNDOFF_UNITS = 8.0


def cosine_values(start, end):
  """The INNAprop authors' cosine from start to end over the run, one value per step."""
  return [end + (start - end) * 0.5 * (1 + np.cos(np.pi * k / STEPS)) for k in range(STEPS)]


def as_schedule(values):
  return lambda count: jnp.asarray(values)[jnp.minimum(count, len(values) - 1)]


# ---------------------------------------------------------------- running both sides
def ours(tx, problem, dtype, pass_params=True):
  """Our trajectory with params of ``dtype``, the gradient taken in that dtype."""
  hessian, target, theta0 = problem

  def step(carry, _):
    params, state = carry
    grads = (jnp.asarray(hessian, dtype) @ (params - jnp.asarray(target, dtype))).astype(dtype)
    updates, state = tx.update(grads, state, params if pass_params else None)
    params = optax.apply_updates(params, updates)
    return (params, state), params

  params = jnp.asarray(theta0, dtype)
  _, trajectory = jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), length=STEPS))(params)
  widened = trajectory.astype(jnp.float32) if dtype == jnp.bfloat16 else trajectory
  return np.asarray(widened).astype(np.complex128 if jnp.iscomplexobj(widened) else np.float64)


def transcription(problem, step_sizes, alpha, beta, dtype=np.float64, rms=None, **options):
  """The paper's recursion in ``dtype`` (``rms=(sigma, eps)``: on RMS-scaled gradients)."""
  hessian, target, theta0 = problem
  h, x = hessian.astype(dtype), target.astype(dtype)
  grad = lambda theta: h @ (theta - x)
  if rms is not None:  # sigma = 0.999 is 1 in bfloat16: the scaling's scalars need float32
    grad = rms_scaled(grad, *rms, dtype=np.promote_types(dtype, np.float32).type)
  trajectory = indian_reference(
    grad, theta0.astype(dtype), step_sizes, alpha, beta, dtype=dtype, **options
  )
  return trajectory  # in ``dtype``: deviation() compares in the wider of the two


def deviation(trajectory, reference):
  """max_k ||theta_k - ref_k|| / max_k ||ref_k||, the trajectory's relative deviation."""
  wide = (
    np.clongdouble if np.iscomplexobj(trajectory) or np.iscomplexobj(reference) else np.longdouble
  )
  trajectory, reference = np.asarray(trajectory).astype(wide), np.asarray(reference).astype(wide)
  return float(
    np.max(np.linalg.norm(trajectory - reference, axis=1))
    / np.max(np.linalg.norm(reference, axis=1))
  )


def assume_the_recursion_is_tame(reference):
  assume(np.all(np.isfinite(reference)) and np.max(np.abs(reference)) < 1e3)


def extended_precision_transcription(run, steps, alphas, betas, reference):
  """The yardstick: the transcription in NumPy's extended precision (80-bit on x86-64 Linux).

  Where ``np.longdouble`` is float64 (macOS on Arm, say) the float64 property cannot tell
  the recursion's own loss of digits from ours.
  """
  complex_params = np.iscomplexobj(run["problem"][2])
  extended = np.clongdouble if complex_params else np.longdouble
  return transcription(run["problem"], steps, alphas, betas, extended, **reference)


def assume_roundings_do_not_grow(problem, steps, alphas, betas, reference, exact, dtype):
  """Filters chaotic runs, where any two roundings part ways and no factor means anything.

  The recursion started from theta_0 moved by one unit of ``dtype``'s roundoff must stay
  within 4 such units of the exact run: RMS-scaled steps flip with the sign of tiny
  gradients, for instance (at lr = 10, beta = 1e-4 a nudge of 1e-15 moved INNAprop by 2e-8).
  """
  eps = float(jnp.finfo(dtype).eps)
  hessian, target, theta0 = problem
  nudged = (hessian, target, theta0 * (1 + eps))
  moved = deviation(transcription(nudged, steps, alphas, betas, **reference), exact)
  assume(moved < 4 * eps)


def low_precision_yardstick(problem, steps, alphas, betas, reference, exact, dtype):
  """The transcription's own deviation in ``dtype``: the largest of three equally valid runs,
  from theta_0 and from theta_0 moved by one unit of roundoff either way.

  One run alone is a lucky or unlucky draw of roundings. Found by the thorough profile:
  INDIAN at lr 1 (cosine), alpha 0, beta 9.63, both decays, c = 0 on a 1-d quadratic: the
  float32 transcription deviates 2.3e-7 from theta_0 but 1.6e-6 to 9.1e-6 from theta_0 moved
  by 1 to 3 ulps (alpha = 0 keeps every rounding of psi), and ours 7.0e-6.
  """
  numpy_dtype = LOW_PRECISIONS[jnp.dtype(dtype).name][1]
  eps = float(jnp.finfo(dtype).eps)
  hessian, target, theta0 = problem
  starts = (theta0, theta0 * (1 - eps), theta0 * (1 + eps))
  return max(
    deviation(transcription((hessian, target, start), steps, alphas, betas, numpy_dtype,
                            **reference), exact)
    for start in starts
  )  # fmt: skip


# ---------------------------------------------------------------- what is drawn: a run
@st.composite
def runs(draw, name, low_precision=False):
  """One public transformation with its hyperparameters, options and the way they are passed."""
  lr, alpha, beta = draw(hyperparameters())
  run = dict(name=name, lr=lr, alpha=alpha, beta=beta, options={}, schedule=None)
  run["passed"] = draw(st.sampled_from(["python_floats", "inject_hyperparams"]))
  if name == "indian":  # any subset of the options, together
    run["options"] = draw(st.fixed_dictionaries({}, optional={
      "weight_decay": st.sampled_from([1e-3, 0.1]),
      "decoupled_weight_decay": st.sampled_from([1e-3, 0.1]),
      "initial_speed": st.sampled_from([0.0, 1.0, 2.5]),
    }))  # fmt: skip
  else:
    run["options"] = {"weight_decay": draw(st.sampled_from([0.0, 0.01, 0.1]))}
  if draw(st.booleans()):  # something moves between steps
    run["schedule"] = draw(st.sampled_from(["alpha_beta_cosine", "power_decay", "lr_cosine"]))
  run["low_precision"] = low_precision
  if low_precision and draw(st.booleans()):
    run["state_dtype"] = jnp.float32
  run["problem"] = draw(quadratics())
  if not low_precision and draw(st.booleans()):  # complex params: z moves as the pair (x, y)
    hessian, target, theta0 = run["problem"]
    run["problem"] = (hessian, target + 1j * target[::-1], theta0 - 0.5j * theta0[::-1])
  return run


FACTORIES = {"indian": indian_optax.indian, "innaprop": indian_optax.innaprop}


def build(run):
  """(our transformation, the reference's step sizes, alphas, betas and options)."""
  lr, alpha, beta, schedule = run["lr"], run["alpha"], run["beta"], run["schedule"]
  steps, alphas, betas = [lr] * STEPS, alpha, beta
  hyper = dict(learning_rate=lr, alpha=alpha, beta=beta)
  if schedule == "alpha_beta_cosine":
    alphas, betas = cosine_values(alpha, 2 * alpha + 0.1), cosine_values(beta, beta / 3)
    hyper |= dict(alpha=as_schedule(alphas), beta=as_schedule(betas))
  elif schedule == "power_decay":
    steps = [lr / np.sqrt(k + 1.0) for k in range(STEPS)]
    hyper["learning_rate"] = indian_optax.power_decay(lr, 0.5)
  elif schedule == "lr_cosine":
    steps = cosine_values(lr, lr / 10)
    hyper["learning_rate"] = as_schedule(steps)
  factory = FACTORIES[run["name"]]
  extra = dict(run["options"])
  if "state_dtype" in run:
    extra["state_dtype"] = run["state_dtype"]
  if run["passed"] == "inject_hyperparams":
    # A dtype is callable: inject_hyperparams would take it for a schedule. It casts the
    # hyperparameters to the params' dtype unless told: sigma = 0.999 is 1 in bfloat16.
    hyperparam_dtype = jnp.float32 if run["low_precision"] else None
    inject = optax.inject_hyperparams(factory, ("state_dtype",), hyperparam_dtype)
    tx = inject(**hyper, **extra)
  else:
    tx = factory(**hyper, **extra)
  reference = dict(run["options"])
  if run["name"] == "innaprop":
    reference = dict(decoupled_weight_decay=reference["weight_decay"], rms=(0.999, 1e-8))
  return tx, steps, alphas, betas, reference


# ---------------------------------------------------------------- the properties
NAMES = sorted(FACTORIES)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_every_transformation_is_the_paper_recursion_in_float64(name, data):
  run = data.draw(runs(name))
  complex_params = np.iscomplexobj(run["problem"][2])
  with jax.enable_x64(True):
    tx, steps, alphas, betas, reference = build(run)
    exact = extended_precision_transcription(run, steps, alphas, betas, reference)
    assume_the_recursion_is_tame(exact)
    float64 = np.complex128 if complex_params else np.float64
    plain = deviation(
      transcription(run["problem"], steps, alphas, betas, float64, **reference), exact
    )
    assume(plain <= FLOAT64_TOLERANCE / 100)  # the recursion itself keeps its digits in float64
    got = deviation(
      ours(tx, run["problem"], jnp.complex128 if complex_params else jnp.float64), exact
    )
  assert got <= FLOAT64_TOLERANCE, (got, plain)


LOW_PRECISIONS = {
  "float32": (jnp.float32, np.float32),
  "bfloat16": (jnp.bfloat16, ml_dtypes.bfloat16),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("precision", sorted(LOW_PRECISIONS))
@given(data=st.data())
def test_low_precision_stays_within_a_small_factor_of_the_transcription(precision, name, data):
  run = data.draw(runs(name, low_precision=True))
  ours_dtype, numpy_dtype = LOW_PRECISIONS[precision]
  tx, steps, alphas, betas, reference = build(run)
  exact = extended_precision_transcription(run, steps, alphas, betas, reference)
  assume_the_recursion_is_tame(exact)
  assume_roundings_do_not_grow(run["problem"], steps, alphas, betas, reference, exact, ours_dtype)
  plain = low_precision_yardstick(
    run["problem"], steps, alphas, betas, reference, exact, ours_dtype
  )
  assume(plain < 0.1)  # the recursion itself keeps some digits in this dtype
  # alpha lr >= 2 makes the recursion's mode 1 - alpha lr grow any rounding (it is 0 in exact
  # arithmetic when alpha beta = 1): such runs part ways whatever rounds them.
  assume(max(np.asarray(alphas) * np.asarray(steps)) < 1.9)
  got = deviation(ours(tx, run["problem"], ours_dtype), exact)
  roundoff = ROUNDOFF_UNITS * float(jnp.finfo(ours_dtype).eps)
  assert got <= LOW_PRECISION_FACTOR * plain + roundoff, (got, plain)

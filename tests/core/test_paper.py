"""Both optimizers equal the papers' recursions in float64, for every option (hand-picked
cases; ``test_paper_property.py`` draws the whole domain).

* INDIAN: the (theta, psi) recursion of Castera et al. (``reference.indian_reference``), with
  coupled and decoupled weight decay, initial speeds, ``power_decay``.
* INNAprop: its authors' update as they wrote it (``reference.innaprop_reference``), and the
  paper's recursion on RMS-scaled gradients where theirs divides by zero (lr = beta).
* Time-varying alpha and beta: the recursion with alpha_k, beta_k, from the INNAprop authors'
  per-epoch cosines and from live changes under ``inject_hyperparams``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree
from problems import flat_problem, mlp_problem, nonsmooth, run
from reference import (
  cosine,
  indian_reference,
  innaprop_reference,
  max_relative_deviation,
  power_decay_reference,
  rms_scaled,
)

import indian_optax

# ---------------------------------------------------------------- INDIAN
INDIAN_STEPS = 500


def nonsmooth_problem():
  return nonsmooth, jnp.array([2.0, 0.5])


PROBLEMS = {
  # (problem, alpha, beta, gamma_0)
  "nonsmooth": (nonsmooth_problem, 0.5, 0.1, 0.01),
  "mlp": (mlp_problem, 0.3, 0.5, 0.1),
}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("scheduled", [False, True], ids=["constant", "power_decay"])
@pytest.mark.parametrize("initial_speed", [None, 0.0, 1.0])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_indian_follows_the_paper_recursion(
  float64, problem, scheduled, initial_speed, weight_decay
):
  make, alpha, beta, gamma0 = PROBLEMS[problem]
  loss, params = make()
  params = jax_float64(params)
  learning_rate = indian_optax.power_decay(gamma0, 0.5) if scheduled else gamma0
  step_sizes = power_decay_reference(gamma0, 0.5 if scheduled else 0.0, INDIAN_STEPS)
  tx = indian_optax.indian(
    learning_rate, alpha, beta, weight_decay=weight_decay or None, initial_speed=initial_speed
  )

  ours, _, _ = run(tx, loss, params, INDIAN_STEPS, pass_params=weight_decay != 0.0)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(
    grad, theta0, step_sizes, alpha, beta, weight_decay=weight_decay, initial_speed=initial_speed
  )

  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("scheduled", [False, True], ids=["constant", "power_decay"])
def test_decoupled_weight_decay_follows_the_innaprop_order(float64, problem, scheduled):
  make, alpha, beta, gamma0 = PROBLEMS[problem]
  loss, params = make()
  params = jax_float64(params)
  learning_rate = indian_optax.power_decay(gamma0, 0.5) if scheduled else gamma0
  step_sizes = power_decay_reference(gamma0, 0.5 if scheduled else 0.0, INDIAN_STEPS)
  tx = indian_optax.indian(learning_rate, alpha, beta, decoupled_weight_decay=0.05)

  ours, _, _ = run(tx, loss, params, INDIAN_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(grad, theta0, step_sizes, alpha, beta, decoupled_weight_decay=0.05)

  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_every_option_at_once_follows_the_paper_in_its_order(float64, problem):
  """Decoupled decay first (theta shrinks, psi stays), then the step with INNA's coupled decay
  on the decayed theta, and an initial speed, with a power decay."""
  make, alpha, beta, gamma0 = PROBLEMS[problem]
  loss, params = make()
  params = jax_float64(params)
  options = dict(weight_decay=0.02, decoupled_weight_decay=0.05, initial_speed=1.5)
  tx = indian_optax.indian(indian_optax.power_decay(gamma0, 0.5), alpha, beta, **options)
  ours, _, _ = run(tx, loss, params, INDIAN_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  step_sizes = power_decay_reference(gamma0, 0.5, INDIAN_STEPS)
  expected = indian_reference(grad, theta0, step_sizes, alpha, beta, **options)
  assert max_relative_deviation(ours, expected) < 1e-12


def test_first_step_is_minus_lr_c_g0(float64):
  """initial_speed c gives the initial velocity -c g_0; None means c = beta."""
  g = jnp.array([1.0, -2.0])
  for initial_speed, c in [(None, 0.3), (0.0, 0.0), (1.0, 1.0), (2.5, 2.5)]:
    tx = indian_optax.indian(0.1, alpha=0.5, beta=0.3, initial_speed=initial_speed)
    updates, _ = tx.update(g, tx.init(jnp.zeros(2)))
    np.testing.assert_allclose(updates, -0.1 * c * g, rtol=1e-14, atol=1e-15)


def test_the_paper_psi_is_recovered_from_the_state(float64):
  loss, params = mlp_problem()
  params = jax_float64(params)
  alpha, beta = 0.3, 0.5
  tx = indian_optax.indian(0.1, alpha, beta)
  _, last, state = run(tx, loss, params, 7)
  grad, theta0, unravel = flat_problem(loss, params)
  # The reference psi after 7 steps, recomputed alongside theta.
  theta, psi = theta0.copy(), None
  for _ in range(7):
    g = grad(theta)
    psi = (1 - alpha * beta) * theta if psi is None else psi
    theta, psi = (
      theta + 0.1 * ((1 / beta - alpha) * theta - psi / beta - beta * g),
      psi + 0.1 * ((1 / beta - alpha) * theta - psi / beta),
    )
  ours = indian_optax.psi_from_state(state, last)
  np.testing.assert_allclose(flat(ours), psi, rtol=1e-12)


# ---------------------------------------------------------------- decay schedules and masks
# A decay schedule computed in float64 under x64, as the reference computes it.
DECAY_SCHEDULE = indian_optax.power_decay(0.05, 0.5)


def masked_coordinates(params, mask):
  """The decay mask of the flat theta: 1.0 where ``mask`` (a tree of bools) is True."""
  return ravel_pytree(jax.tree.map(lambda p, on: jnp.full(p.shape, float(on)), params, mask))[0]


MLP_MASKS = {
  "matrices_only": lambda params: jax.tree.map(lambda p: p.ndim > 1, params),
  "a_tree": lambda params: {"w1": True, "b1": False, "w2": False, "b2": True},
  "nothing": lambda params: jax.tree.map(lambda p: False, params),
}


@pytest.mark.parametrize("mask", sorted(MLP_MASKS))
@pytest.mark.parametrize("as_callable", [False, True], ids=["tree", "callable"])
def test_indian_decays_follow_the_paper_with_a_schedule_and_a_mask(float64, mask, as_callable):
  """Both decays as schedules, applied only where the mask says (as optax.adamw's mask)."""
  loss, params = mlp_problem()
  params = jax_float64(params)
  alpha, beta, gamma0 = 0.3, 0.5, 0.1
  chosen = MLP_MASKS[mask](params)
  tx = indian_optax.indian(
    gamma0, alpha, beta, weight_decay=DECAY_SCHEDULE, decoupled_weight_decay=DECAY_SCHEDULE,
    mask=MLP_MASKS[mask] if as_callable else chosen,
  )  # fmt: skip
  ours, _, _ = run(tx, loss, params, INDIAN_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  decays = power_decay_reference(0.05, 0.5, INDIAN_STEPS)
  expected = indian_reference(
    grad, theta0, [gamma0] * INDIAN_STEPS, alpha, beta, weight_decay=decays,
    decoupled_weight_decay=decays, decay_mask=np.asarray(masked_coordinates(params, chosen)),
  )  # fmt: skip
  assert max_relative_deviation(ours, expected) < 1e-12


def test_a_mask_may_be_a_prefix_of_the_params_tree(float64):
  loss, params = mlp_problem()
  nested = {"layer": jax_float64(params), "scale": jnp.ones(3)}
  tx = lambda mask: indian_optax.indian(0.1, 0.3, 0.5, decoupled_weight_decay=0.05, mask=mask)
  full = {"layer": jax.tree.map(lambda _: True, params), "scale": False}
  prefix = {"layer": True, "scale": False}
  nested_loss = lambda p: loss(p["layer"]) + jnp.sum(p["scale"] ** 2)
  np.testing.assert_array_equal(
    run(tx(prefix), nested_loss, nested, 20)[0], run(tx(full), nested_loss, nested, 20)[0]
  )
  assert not np.array_equal(
    run(tx(prefix), nested_loss, nested, 20)[0], run(tx(None), nested_loss, nested, 20)[0]
  )


def test_a_mask_of_another_tree_is_a_clear_error():
  tx = indian_optax.indian(0.1, weight_decay=0.01, mask={"a": True})
  params = {"b": jnp.ones(2)}
  with pytest.raises(ValueError, match="^indian: mask must have the params' tree structure"):
    tx.update(params, tx.init(params), params)


# ---------------------------------------------------------------- INNAprop
INNAPROP_STEPS = 300

INNAPROP_PROBLEMS = {
  "nonsmooth": (lambda: (nonsmooth, jnp.array([2.0, 0.5])), 1e-2),
  # Near its minimum this tiny MLP is chaotic under RMS-normalised steps of 2e-3
  # and more (v-hat shrinks with the gradient, so the effective step grows): any
  # two roundings of the same update part ways (measured: 4e-15 -> 9e-5 in 50 steps).
  "mlp": (mlp_problem, 1e-3),
}
SETTINGS = {
  "authors_defaults": dict(alpha=0.1, beta=0.9, sigma=0.999),
  "cifar10_pair": dict(alpha=2.0, beta=2.0, sigma=0.99),
}


@pytest.mark.parametrize("problem", sorted(INNAPROP_PROBLEMS))
@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("scheduled", [False, True], ids=["constant", "power_decay"])
def test_innaprop_follows_the_authors_update(float64, problem, setting, weight_decay, scheduled):
  make, gamma0 = INNAPROP_PROBLEMS[problem]
  loss, params = make()
  params = jax_float64(params)
  hyper = SETTINGS[setting]
  learning_rate = indian_optax.power_decay(gamma0, 0.5) if scheduled else gamma0
  step_sizes = power_decay_reference(gamma0, 0.5 if scheduled else 0.0, INNAPROP_STEPS)
  tx = indian_optax.innaprop(learning_rate, eps=1e-8, weight_decay=weight_decay, **hyper)

  ours, _, _ = run(tx, loss, params, INNAPROP_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = innaprop_reference(
    grad, theta0, step_sizes, eps=1e-8, weight_decay=weight_decay, **hyper
  )

  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("mask", sorted(MLP_MASKS))
def test_innaprop_weight_decay_follows_the_authors_with_a_schedule_and_a_mask(float64, mask):
  loss, params = mlp_problem()
  params = jax_float64(params)
  hyper = SETTINGS["authors_defaults"]
  chosen = MLP_MASKS[mask](params)
  schedule = indian_optax.power_decay(0.5, 0.5)
  tx = indian_optax.innaprop(1e-3, eps=1e-8, weight_decay=schedule, mask=chosen, **hyper)
  ours, _, _ = run(tx, loss, params, INNAPROP_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = innaprop_reference(
    grad, theta0, [1e-3] * INNAPROP_STEPS, eps=1e-8, **hyper,
    weight_decay=power_decay_reference(0.5, 0.5, INNAPROP_STEPS),
    decay_mask=np.asarray(masked_coordinates(params, chosen)),
  )  # fmt: skip
  assert max_relative_deviation(ours, expected) < 1e-12


def test_rms_scaling_is_bias_corrected(float64):
  g1, g2 = jnp.array([3.0, -0.5]), jnp.array([1.0, 2.0])
  tx = indian_optax.scale_by_bias_corrected_rms(sigma=0.9, eps=1e-8)
  state = tx.init(g1)
  first, state = tx.update(g1, state)
  second, _ = tx.update(g2, state)
  v2 = 0.9 * 0.1 * np.asarray(g1) ** 2 + 0.1 * np.asarray(g2) ** 2
  np.testing.assert_allclose(first, np.asarray(g1) / (np.abs(g1) + 1e-8), rtol=1e-14)
  np.testing.assert_allclose(second, np.asarray(g2) / (np.sqrt(v2 / (1 - 0.81)) + 1e-8), rtol=1e-14)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9, 2.0])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_innaprop_at_learning_rate_equal_to_beta_follows_the_paper(float64, beta, weight_decay):
  """At lr = beta the authors' form divides by beta - lr = 0; the paper's Euler step does not.

  The reference is the paper's (theta, psi) recursion on RMS-scaled gradients (INNAprop's
  definition), not the authors' code, which cannot be evaluated there.
  """
  hessian = np.diag([0.5, 1.0, 2.0, 3.0, 4.0])
  target, theta0 = np.array([1.0, -1.0, 0.5, 2.0, 0.0]), np.array([0.3, 0.2, -0.1, 1.0, 0.5])
  loss = lambda p: 0.5 * (p - target) @ jnp.asarray(hessian) @ (p - target)
  tx = indian_optax.innaprop(beta, alpha=0.3, beta=beta, sigma=0.99, weight_decay=weight_decay)
  ours, _, _ = run(tx, loss, jnp.asarray(theta0), 30)
  grad = lambda theta: hessian @ (theta - target)
  expected = indian_reference(
    rms_scaled(grad, 0.99, 1e-8), theta0, [beta] * 30, 0.3, beta,
    decoupled_weight_decay=weight_decay,
  )  # fmt: skip
  assert max_relative_deviation(ours, expected) < 1e-10


# ---------------------------------------------------------------- time-varying alpha and beta
VARYING_STEPS, STEPS_PER_EPOCH = 300, 30


def cosine_schedule(start, end):
  """The same per-epoch cosine as a JAX schedule ``count -> value``."""
  epochs = VARYING_STEPS // STEPS_PER_EPOCH

  def schedule(count):
    epoch = jnp.floor_divide(count, STEPS_PER_EPOCH).astype(jnp.result_type(float))
    return end + (start - end) * 0.5 * (1 + jnp.cos(jnp.pi * epoch / epochs))

  return schedule


VARYING_PROBLEMS = {
  "nonsmooth": lambda: (nonsmooth, jnp.array([2.0, 0.5])),
  "mlp": mlp_problem,
}
# (alpha start, end), (beta start, end): both moving, and one of them constant (a plain
# float: the change of basis must not wait for both to be schedules).
SCHEDULES = {
  "both": ((0.5, 2.0), (0.1, 0.5)),
  "alpha_only": ((2.0, 0.1), (0.3, 0.3)),
  "beta_only": ((0.5, 0.5), (1.0, 0.05)),
}


@pytest.mark.parametrize("problem", sorted(VARYING_PROBLEMS))
@pytest.mark.parametrize("schedules", sorted(SCHEDULES))
@pytest.mark.parametrize(
  "options",
  [{}, {"weight_decay": 1e-3, "initial_speed": 1.0}, {"decoupled_weight_decay": 1e-2}],
  ids=["plain", "coupled_decay_speed", "decoupled_decay"],
)
def test_indian_with_cosine_alpha_and_beta_follows_the_paper(float64, problem, schedules, options):
  loss, params = VARYING_PROBLEMS[problem]()
  params = jax_float64(params)
  (a0, a1), (b0, b1) = SCHEDULES[schedules]
  gamma = 0.01
  hyper = lambda start, end: start if start == end else cosine_schedule(start, end)
  tx = indian_optax.indian(gamma, hyper(a0, a1), hyper(b0, b1), **options)
  ours, _, _ = run(tx, loss, params, VARYING_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  alphas, betas = (
    cosine(a0, a1, VARYING_STEPS, STEPS_PER_EPOCH),
    cosine(b0, b1, VARYING_STEPS, STEPS_PER_EPOCH),
  )
  expected = indian_reference(grad, theta0, [gamma] * VARYING_STEPS, alphas, betas, **options)
  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("problem", sorted(VARYING_PROBLEMS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_innaprop_with_cosine_alpha_and_beta_follows_the_paper(float64, problem, weight_decay):
  loss, params = VARYING_PROBLEMS[problem]()
  params = jax_float64(params)
  gamma, sigma, eps = 1e-3, 0.99, 1e-8
  alpha, beta = cosine_schedule(0.1, 2.0), cosine_schedule(0.9, 2.0)
  tx = indian_optax.innaprop(gamma, alpha, beta, sigma, eps, weight_decay)
  ours, _, _ = run(tx, loss, params, VARYING_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(
    rms_scaled(grad, sigma, eps), theta0, [gamma] * VARYING_STEPS,
    cosine(0.1, 2.0, VARYING_STEPS, STEPS_PER_EPOCH),
    cosine(0.9, 2.0, VARYING_STEPS, STEPS_PER_EPOCH),
    decoupled_weight_decay=weight_decay,
  )  # fmt: skip
  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_innaprop_is_indian_on_rms_scaled_gradients(float64, weight_decay):
  """A cross-check derived independently of the authors' rearranged psi form."""
  loss, params = mlp_problem()
  params = jax_float64(params)
  gamma, alpha, beta, sigma, eps = 1e-3, 0.1, 0.9, 0.999, 1e-8
  tx = indian_optax.innaprop(gamma, alpha, beta, sigma, eps, weight_decay)
  ours, _, _ = run(tx, loss, params, VARYING_STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(
    rms_scaled(grad, sigma, eps), theta0, [gamma] * VARYING_STEPS, alpha, beta,
    decoupled_weight_decay=weight_decay,
  )  # fmt: skip
  authors = innaprop_reference(
    grad, theta0, [gamma] * VARYING_STEPS, alpha, beta, sigma, eps, weight_decay
  )
  assert max_relative_deviation(ours, expected) < 1e-12
  assert max_relative_deviation(authors, expected) < 1e-12


def run_with_live_change(factory, loss, params, change_at, first=None, **new_values):
  """Steps under inject_hyperparams, setting new hyperparameter values before step change_at."""
  tx = optax.inject_hyperparams(factory)(**(first or FIRST))
  state = tx.init(params)
  step = jax.jit(lambda p, s: tx.update(jax.grad(loss)(p), s, p))
  trajectory = []
  for k in range(60):
    if k == change_at:
      for name, value in new_values.items():
        state.hyperparams[name] = jnp.asarray(value, jnp.float64)
    updates, state = step(params, state)
    params = optax.apply_updates(params, updates)
    trajectory.append(np.asarray(params))
  return np.array(trajectory)


FIRST = dict(learning_rate=0.01, alpha=0.5, beta=0.2)


@pytest.mark.parametrize("change_at", [0, 25])
def test_indian_follows_the_paper_when_alpha_and_beta_change_live(float64, change_at):
  theta0 = jnp.array([2.0, 0.5])
  ours = run_with_live_change(
    indian_optax.indian, nonsmooth, theta0, change_at, alpha=1.5, beta=0.05
  )
  grad, flat0, _ = flat_problem(nonsmooth, theta0)
  alphas = [0.5] * change_at + [1.5] * (60 - change_at)
  betas = [0.2] * change_at + [0.05] * (60 - change_at)
  expected = indian_reference(grad, flat0, [0.01] * 60, alphas, betas)
  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("factory", [indian_optax.indian, indian_optax.innaprop])
def test_alpha_and_beta_changed_before_the_first_step_equal_building_with_them(float64, factory):
  theta0 = jnp.array([2.0, 0.5])
  live = run_with_live_change(factory, nonsmooth, theta0, 0, alpha=1.5, beta=0.05)
  first = FIRST | {"alpha": 1.5, "beta": 0.05}
  built = run_with_live_change(factory, nonsmooth, theta0, -1, first=first)
  np.testing.assert_allclose(live, built, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("factory", [indian_optax.indian, indian_optax.innaprop])
def test_psi_before_the_first_step_is_the_authors_initialisation(float64, factory):
  params = {"w": jnp.array([1.0, -2.0, 0.5])}
  state = factory(0.1, alpha=0.7, beta=0.3).init(params)
  psi = indian_optax.psi_from_state(state, params)
  np.testing.assert_array_equal(psi["w"], (1 - 0.7 * 0.3) * params["w"])


@pytest.mark.parametrize("change_at", [1, 25])
def test_psi_after_a_live_change_of_alpha_and_beta_is_the_papers(float64, change_at):
  """psi_from_state reads the state's own alpha*beta, the basis of the last step."""
  theta0 = jnp.array([2.0, 0.5])
  tx = optax.inject_hyperparams(indian_optax.indian)(**FIRST)
  state, params = tx.init(theta0), theta0
  step = jax.jit(lambda p, s: tx.update(jax.grad(nonsmooth)(p), s, p))
  for k in range(change_at + 3):
    if k == change_at:
      state.hyperparams["alpha"], state.hyperparams["beta"] = jnp.asarray(1.5), jnp.asarray(0.05)
    updates, state = step(params, state)
    params = optax.apply_updates(params, updates)
  grad, flat0, _ = flat_problem(nonsmooth, theta0)
  steps = change_at + 3
  alphas = [0.5] * change_at + [1.5] * 3
  betas = [0.2] * change_at + [0.05] * 3
  _, psis = indian_reference(grad, flat0, [0.01] * steps, alphas, betas, with_psi=True)
  np.testing.assert_allclose(indian_optax.psi_from_state(state, params), psis[-1], rtol=1e-12)


def test_complex_params_move_as_their_real_pairs(float64):
  """INDIAN's step is linear: z = x + iy moves exactly as the pair (x, y) does."""
  a = 1 + 1j
  objective = lambda p: jnp.abs(a - p[0]) ** 2 + 100.0 * jnp.abs(p[1] - p[0] ** 2) ** 2
  pairs = lambda v: objective(v[0] + 1j * v[1])

  def solve(loss, params, steps=200):
    tx = indian_optax.indian(0.01, 1.0, 0.1)

    def step(_, carry):
      params, state = carry
      grads = jax.tree.map(jnp.conj, jax.grad(loss)(params))  # as Optax conjugates
      updates, state = tx.update(grads, state)
      return optax.apply_updates(params, updates), state

    return jax.lax.fori_loop(0, steps, step, (params, tx.init(params)))[0]

  initial = jnp.zeros(2, jnp.complex128)
  as_complex = solve(objective, initial)
  as_pairs = solve(pairs, jnp.stack([initial.real, initial.imag]))
  np.testing.assert_allclose(as_complex, as_pairs[0] + 1j * as_pairs[1], rtol=1e-12, atol=1e-14)


def test_the_bias_correction_keeps_its_digits_in_float32():
  """A constant gradient 1 gives v_k = 1 - sigma^k exactly, so g_hat = 1. Computed as
  ``1 - sigma**k`` (Optax's form) the subtraction loses 2 to 3 digits at sigma = 0.999: 28
  units of roundoff off after 40 steps, and float32 INNAprop runs 6.8x as far from the paper
  as the float32 transcription (found by the thorough property profile)."""
  tx = indian_optax.scale_by_bias_corrected_rms(0.999, 1e-30)
  grads = jnp.ones(1, jnp.float32)
  state, update = tx.init(grads), jax.jit(tx.update)
  for _ in range(40):
    scaled, state = update(grads, state)
    assert abs(float(scaled[0]) - 1.0) <= 4 * float(jnp.finfo(jnp.float32).eps)


def test_innaprop_scales_complex_gradients_as_optax_scale_by_rms(float64):
  ours = indian_optax.scale_by_bias_corrected_rms(0.9, 1e-8)
  theirs = optax.scale_by_rms(0.9, 1e-8, eps_in_sqrt=False, bias_correction=True)
  grads = [jnp.array([2j, 1 - 1j, 0.5]), jnp.array([1.0, 3j, -2 + 1j])]
  our_state, their_state = ours.init(grads[0]), theirs.init(grads[0])
  for g in grads:
    our_update, our_state = ours.update(g, our_state)
    their_update, their_state = theirs.update(g, their_state)
    np.testing.assert_allclose(our_update, their_update, rtol=1e-12)
  assert our_state.nu.dtype == jnp.float64, "|g|^2 is averaged in the real dtype"


@pytest.mark.parametrize("weight_decay", [None, 0.01])
def test_innaprop_follows_the_paper_when_alpha_and_beta_change_live(float64, weight_decay):
  theta0 = jnp.array([2.0, 0.5])
  first = dict(learning_rate=1e-2, alpha=0.5, beta=0.2, sigma=0.9, weight_decay=weight_decay)
  ours = run_with_live_change(
    indian_optax.innaprop, nonsmooth, theta0, 25, first=first, alpha=1.5, beta=0.05
  )
  grad, flat0, _ = flat_problem(nonsmooth, theta0)
  expected = indian_reference(
    rms_scaled(grad, 0.9, 1e-8), flat0, [1e-2] * 60, [0.5] * 25 + [1.5] * 35,
    [0.2] * 25 + [0.05] * 35, decoupled_weight_decay=weight_decay or 0.0,
  )  # fmt: skip
  assert max_relative_deviation(ours, expected) < 1e-12


def jax_float64(tree):
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), tree)


def flat(tree):
  from jax.flatten_util import ravel_pytree

  return np.asarray(ravel_pytree(tree)[0])

"""Time-varying alpha and beta follow the paper's recursion with alpha_k, beta_k (float64).

theta_{k+1} = theta_k + gamma_k [(1/beta_k - alpha_k) theta_k - psi_k/beta_k - beta_k g_k]
psi_{k+1}   = psi_k   + gamma_k [(1/beta_k - alpha_k) theta_k - psi_k/beta_k]

with the INNAprop authors' per-epoch cosine schedules of alpha and beta
(adjust_alpha_cosine, adjust_beta_cosine), and live changes under inject_hyperparams.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from problems import flat_problem, mlp_problem, nonsmooth, run
from reference import (
  cosine,
  indian_reference,
  innaprop_reference,
  max_relative_deviation,
  rms_scaled,
)

import indian_optax

STEPS, STEPS_PER_EPOCH = 300, 30


def cosine_schedule(start, end):
  """The same per-epoch cosine as a JAX schedule ``count -> value``."""
  epochs = STEPS // STEPS_PER_EPOCH

  def schedule(count):
    epoch = jnp.floor_divide(count, STEPS_PER_EPOCH).astype(jnp.result_type(float))
    return end + (start - end) * 0.5 * (1 + jnp.cos(jnp.pi * epoch / epochs))

  return schedule


PROBLEMS = {
  "nonsmooth": lambda: (nonsmooth, jnp.array([2.0, 0.5])),
  "mlp": mlp_problem,
}
# (alpha start, end), (beta start, end): both moving, and one of them constant.
SCHEDULES = {
  "both": ((0.5, 2.0), (0.1, 0.5)),
  "alpha_only": ((2.0, 0.1), (0.3, 0.3)),
  "beta_only": ((0.5, 0.5), (1.0, 0.05)),
}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("schedules", sorted(SCHEDULES))
@pytest.mark.parametrize(
  "options",
  [{}, {"weight_decay": 1e-3, "initial_speed": 1.0}, {"decoupled_weight_decay": 1e-2}],
  ids=["plain", "coupled_decay_speed", "decoupled_decay"],
)
def test_indian_with_cosine_alpha_and_beta_follows_the_paper(float64, problem, schedules, options):
  loss, params = PROBLEMS[problem]()
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
  (a0, a1), (b0, b1) = SCHEDULES[schedules]
  gamma = 0.01
  tx = indian_optax.indian(gamma, cosine_schedule(a0, a1), cosine_schedule(b0, b1), **options)
  ours, _, _ = run(tx, loss, params, STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  alphas, betas = cosine(a0, a1, STEPS, STEPS_PER_EPOCH), cosine(b0, b1, STEPS, STEPS_PER_EPOCH)
  expected = indian_reference(grad, theta0, [gamma] * STEPS, alphas, betas, **options)
  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_innaprop_with_cosine_alpha_and_beta_follows_the_paper(float64, problem, weight_decay):
  loss, params = PROBLEMS[problem]()
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
  gamma, sigma, eps = 1e-3, 0.99, 1e-8
  alpha, beta = cosine_schedule(0.1, 2.0), cosine_schedule(0.9, 2.0)
  tx = indian_optax.innaprop(gamma, alpha, beta, sigma, eps, weight_decay)
  ours, _, _ = run(tx, loss, params, STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(
    rms_scaled(grad, sigma, eps), theta0, [gamma] * STEPS,
    cosine(0.1, 2.0, STEPS, STEPS_PER_EPOCH), cosine(0.9, 2.0, STEPS, STEPS_PER_EPOCH),
    decoupled_weight_decay=weight_decay,
  )  # fmt: skip
  assert max_relative_deviation(ours, expected) < 1e-12


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_innaprop_is_indian_on_rms_scaled_gradients(float64, weight_decay):
  """A cross-check derived independently of the authors' rearranged psi form."""
  loss, params = mlp_problem()
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
  gamma, alpha, beta, sigma, eps = 1e-3, 0.1, 0.9, 0.999, 1e-8
  tx = indian_optax.innaprop(gamma, alpha, beta, sigma, eps, weight_decay)
  ours, _, _ = run(tx, loss, params, STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(
    rms_scaled(grad, sigma, eps), theta0, [gamma] * STEPS, alpha, beta,
    decoupled_weight_decay=weight_decay,
  )  # fmt: skip
  authors = innaprop_reference(grad, theta0, [gamma] * STEPS, alpha, beta, sigma, eps, weight_decay)
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


def test_schedules_of_alpha_need_the_params_for_indian():
  tx = indian_optax.indian(0.1, alpha=optax.linear_schedule(0.5, 1.0, 10))
  params = jnp.ones(3)
  with pytest.raises(ValueError, match="schedules of alpha or beta need the params"):
    tx.update(params, tx.init(params))


HOW_PASSED = {
  "python_floats": lambda: (0.5, 0.1),
  "numpy_scalars": lambda: (np.float32(0.5), np.float64(0.1)),
  "jax_arrays": lambda: (jnp.asarray(0.5), jnp.asarray(0.1)),
}


@pytest.mark.parametrize("factory", [indian_optax.indian, indian_optax.innaprop])
@pytest.mark.parametrize("passed", sorted(HOW_PASSED))
def test_the_state_is_the_same_tree_however_alpha_and_beta_are_passed(factory, passed):
  params = jnp.ones(3)
  alpha, beta = HOW_PASSED[passed]()
  reference = factory(0.1, alpha=0.5, beta=0.1)
  tx = factory(0.1, alpha=alpha, beta=beta)
  stepped = lambda t: t.update(params, t.init(params), params)[1]
  chex.assert_trees_all_equal_shapes_and_dtypes(tx.init(params), reference.init(params))
  chex.assert_trees_all_equal_shapes_and_dtypes(stepped(tx), stepped(reference))
  injected = optax.inject_hyperparams(factory)(0.1, alpha=alpha, beta=beta).init(params)
  chex.assert_trees_all_equal_shapes_and_dtypes(injected.inner_state, reference.init(params))


def test_alpha_changed_without_params_makes_the_step_nan_never_silently_wrong():
  tx = optax.inject_hyperparams(indian_optax.indian)(learning_rate=0.1, alpha=0.5)
  params = jnp.ones(3)
  update = jax.jit(tx.update)
  updates, state = update(params, tx.init(params))  # constant alpha: params not needed
  chex.assert_tree_all_finite((updates, state.inner_state))
  state.hyperparams["alpha"] = jnp.asarray(1.5)
  updates, state = update(params, state)
  assert bool(jnp.all(jnp.isnan(updates))) and bool(jnp.all(jnp.isnan(state.inner_state.phi)))
  updates, _ = update(params, tx.init(params), params)  # with params the change is carried out
  chex.assert_tree_all_finite(updates)

"""INDIAN equals the paper's (theta, psi) recursion in float64, for every option."""

import jax.numpy as jnp
import numpy as np
import pytest
from problems import flat_problem, mlp_problem, nonsmooth, run
from reference import indian_reference, max_relative_deviation, power_decay_reference

import indian_optax

STEPS = 500


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
  step_sizes = power_decay_reference(gamma0, 0.5 if scheduled else 0.0, STEPS)
  tx = indian_optax.indian(
    learning_rate, alpha, beta, weight_decay=weight_decay, initial_speed=initial_speed
  )

  ours, _, _ = run(tx, loss, params, STEPS, pass_params=weight_decay != 0.0)
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
  step_sizes = power_decay_reference(gamma0, 0.5 if scheduled else 0.0, STEPS)
  tx = indian_optax.indian(learning_rate, alpha, beta, decoupled_weight_decay=0.05)

  ours, _, _ = run(tx, loss, params, STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = indian_reference(grad, theta0, step_sizes, alpha, beta, decoupled_weight_decay=0.05)

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
  ours = indian_optax.psi_from_state(state, last, alpha=alpha, beta=beta)
  np.testing.assert_allclose(flat(ours), psi, rtol=1e-12)


def jax_float64(tree):
  import jax

  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), tree)


def flat(tree):
  from jax.flatten_util import ravel_pytree

  return np.asarray(ravel_pytree(tree)[0])

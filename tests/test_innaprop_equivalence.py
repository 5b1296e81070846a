"""INNAprop equals its authors' update, as they wrote it, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from problems import flat_problem, mlp_problem, nonsmooth, run
from reference import (
  indian_reference,
  innaprop_reference,
  max_relative_deviation,
  power_decay_reference,
  rms_scaled,
)

import indian_optax

STEPS = 300

PROBLEMS = {
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


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("scheduled", [False, True], ids=["constant", "power_decay"])
def test_innaprop_follows_the_authors_update(float64, problem, setting, weight_decay, scheduled):
  make, gamma0 = PROBLEMS[problem]
  loss, params = make()
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
  hyper = SETTINGS[setting]
  learning_rate = indian_optax.power_decay(gamma0, 0.5) if scheduled else gamma0
  step_sizes = power_decay_reference(gamma0, 0.5 if scheduled else 0.0, STEPS)
  tx = indian_optax.innaprop(learning_rate, eps=1e-8, weight_decay=weight_decay, **hyper)

  ours, _, _ = run(tx, loss, params, STEPS)
  grad, theta0, _ = flat_problem(loss, params)
  expected = innaprop_reference(
    grad, theta0, step_sizes, eps=1e-8, weight_decay=weight_decay, **hyper
  )

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

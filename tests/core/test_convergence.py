"""INDIAN and INNAprop reach the minimiser of the classic test functions (family 1)."""

import jax
import jax.numpy as jnp
import optax
import pytest
from problems import nonsmooth, parabola, rosenbrock

import indian_optax


def minimise(tx, loss, x0, steps):
  def body(carry, _):
    x, state = carry
    updates, state = tx.update(jax.grad(loss)(x), state, x)
    return (optax.apply_updates(x, updates), state), None

  (x, _), _ = jax.jit(lambda c: jax.lax.scan(body, c, None, length=steps))((x0, tx.init(x0)))
  return x


def cosine(peak, steps):
  return optax.cosine_decay_schedule(peak, steps)


CASES = {
  # name: (optimizer, loss, start, steps, tolerance on |x - x*|)
  "indian_parabola": (indian_optax.indian(0.1, 0.5, 0.1), parabola, jnp.zeros(5), 1000, 1e-4),
  "indian_rosenbrock": (
    indian_optax.indian(2e-3, 1.0, 0.05),
    rosenbrock,
    jnp.array([-1.2, 1.0]),
    20000,
    1e-3,
  ),
  "indian_nonsmooth": (
    indian_optax.indian(0.01, 0.5, 0.1),
    nonsmooth,
    jnp.array([-1.3, 0.7]),
    5000,
    2e-3,
  ),
  "innaprop_parabola": (
    indian_optax.innaprop(cosine(0.05, 3000), weight_decay=0.0),
    parabola,
    jnp.zeros(5),
    3000,
    1e-3,
  ),
  "innaprop_rosenbrock": (
    indian_optax.innaprop(cosine(1e-2, 20000), weight_decay=0.0),
    rosenbrock,
    jnp.array([-1.2, 1.0]),
    20000,
    2e-2,
  ),
  "innaprop_nonsmooth": (
    indian_optax.innaprop(cosine(1e-2, 20000), weight_decay=0.0),
    nonsmooth,
    jnp.array([-1.3, 0.7]),
    20000,
    1e-2,
  ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reaches_the_minimiser(case):
  tx, loss, x0, steps, tolerance = CASES[case]
  x = minimise(tx, loss, x0, steps)
  assert float(jnp.max(jnp.abs(x - 1.0))) < tolerance, x


def test_newtonian_damping_calms_the_transversal_oscillations():
  """beta > 0 damps the stiff direction that the heavy ball (beta -> 0) keeps oscillating in."""

  def transversal_energy(beta):
    tx = indian_optax.indian(0.01, alpha=0.5, beta=beta, initial_speed=0.0)
    x = jnp.array([-1.3, 0.7])
    state = tx.init(x)
    total = 0.0
    for _ in range(300):
      updates, state = tx.update(jax.grad(nonsmooth)(x), state)
      x = optax.apply_updates(x, updates)
      total += float((x[1] - jnp.abs(x[0])) ** 2)
    return total

  assert transversal_energy(0.1) < 0.5 * transversal_energy(1e-3)

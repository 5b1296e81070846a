"""Objective functions and a runner shared by the tests."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree


def nonsmooth(x):
  """The paper's nonsmooth test function 100 (y - |x|)^2 + |1 - x|, minimum at (1, 1)."""
  return 100.0 * (x[1] - jnp.abs(x[0])) ** 2 + jnp.abs(1.0 - x[0])


def rosenbrock(x):
  return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def parabola(x):
  return 0.5 * jnp.sum(jnp.arange(1.0, x.size + 1.0) * (x - 1.0) ** 2)


def tree(dtype=jnp.float32):
  """A small nested param tree (matrix, vector, scalar) of the given dtype."""
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  return {
    "w": jax.random.normal(keys[0], (3, 4)).astype(dtype),
    "b": jax.random.normal(keys[1], (4,)).astype(dtype),
    "nested": {"s": jax.random.normal(keys[2], ()).astype(dtype)},
  }


def mlp_problem(seed=0):
  """A small tanh MLP regression as (loss(params), params0), in the default float dtype."""
  keys = jax.random.split(jax.random.PRNGKey(seed), 5)
  inputs = jax.random.normal(keys[0], (32, 4))
  targets = jnp.sin(inputs.sum(axis=1, keepdims=True))
  params = {
    "w1": 0.5 * jax.random.normal(keys[1], (4, 8)),
    "b1": jnp.zeros(8),
    "w2": 0.5 * jax.random.normal(keys[2], (8, 1)),
    "b2": jnp.zeros(1),
  }

  def loss(p):
    hidden = jnp.tanh(inputs @ p["w1"] + p["b1"])
    return jnp.mean((hidden @ p["w2"] + p["b2"] - targets) ** 2)

  return loss, params


def flat_problem(loss, params):
  """(NumPy gradient of the flat vector, flat theta_0, unravel) for the reference recursions."""
  flat0, unravel = ravel_pytree(params)
  grad = jax.jit(jax.grad(lambda flat: loss(unravel(flat))))
  return (lambda theta: np.asarray(grad(jnp.asarray(theta)))), np.asarray(flat0), unravel


def run(tx, loss, params, steps, *, pass_params=True):
  """Runs ``steps`` jitted optimizer steps on ``loss``; returns the flattened iterates."""
  state = tx.init(params)

  @jax.jit
  def step(params, state):
    grads = jax.grad(loss)(params)
    updates, state = tx.update(grads, state, params if pass_params else None)
    return optax.apply_updates(params, updates), state

  trajectory = []
  for _ in range(steps):
    params, state = step(params, state)
    trajectory.append(np.asarray(ravel_pytree(params)[0]))
  return np.array(trajectory), params, state

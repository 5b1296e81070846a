"""Bad input gets a clear error naming the culprit; traced values are never checked."""

import math

import jax
import jax.numpy as jnp
import optax
import pytest

import indian_optax

BAD_INDIAN = [
  (dict(beta=0.0), "beta must be > 0, got beta=0.0"),
  (dict(beta=-1.0), "beta must be > 0, got beta=-1.0"),
  (dict(alpha=-0.5), "alpha must be >= 0, got alpha=-0.5"),
  (dict(learning_rate=-0.1), "learning_rate must be >= 0, got learning_rate=-0.1"),
  (dict(alpha=math.nan), "alpha must be finite, got alpha=nan"),
  (dict(beta=math.inf), "beta must be finite, got beta=inf"),
  (dict(learning_rate=jnp.inf), "learning_rate must be finite, got learning_rate=inf"),
  (dict(weight_decay=-1e-4), "weight_decay must be >= 0, got weight_decay=-0.0001"),
  (dict(weight_decay=math.nan), "weight_decay must be finite, got weight_decay=nan"),
  (dict(initial_speed=-1.0), "initial_speed must be >= 0, got initial_speed=-1.0"),
  (dict(initial_speed=math.inf), "initial_speed must be finite, got initial_speed=inf"),
  (
    dict(decoupled_weight_decay=-0.1),
    "decoupled_weight_decay must be >= 0, got decoupled_weight_decay=-0.1",
  ),
  (dict(beta=jnp.array([0.1, 0.0])), "beta must be > 0, got beta=[0.1, 0. ]"),
  (dict(state_dtype=jnp.int32), "state_dtype must be a floating dtype, got state_dtype=int32"),
  (dict(alpha="abc"), "alpha must be a number, got alpha='abc'"),
  (dict(beta=[0.1, "x"]), "beta must be a number"),
]


@pytest.mark.parametrize("kwargs, message", BAD_INDIAN)
def test_indian_rejects_bad_hyperparameters(kwargs, message):
  arguments = dict(learning_rate=0.1) | kwargs
  with pytest.raises(ValueError, match="^indian: " + _escape(message)):
    indian_optax.indian(**arguments)


BAD_INNAPROP = [
  (dict(sigma=1.0), "sigma must be < 1, got sigma=1.0"),
  (dict(sigma=-0.1), "sigma must be >= 0, got sigma=-0.1"),
  (dict(eps=-1e-8), "eps must be > 0, got eps=-1e-08"),
  (dict(eps=0.0), "eps must be > 0, got eps=0.0"),
  (dict(alpha="abc"), "alpha must be a number, got alpha='abc'"),
  (dict(weight_decay=-0.01), "weight_decay must be >= 0, got weight_decay=-0.01"),
  (dict(beta=0.0), "beta must be > 0, got beta=0.0"),
  (dict(alpha=-1.0), "alpha must be >= 0, got alpha=-1.0"),
  (dict(learning_rate=-1e-3), "learning_rate must be >= 0, got learning_rate=-0.001"),
  (dict(sigma=math.nan), "sigma must be finite, got sigma=nan"),
]


@pytest.mark.parametrize("kwargs, message", BAD_INNAPROP)
def test_innaprop_rejects_bad_hyperparameters(kwargs, message):
  arguments = dict(learning_rate=1e-3) | kwargs
  with pytest.raises(ValueError, match="^innaprop: " + _escape(message)):
    indian_optax.innaprop(**arguments)


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(init_value=-1.0), "init_value must be >= 0, got init_value=-1.0"),
    (dict(power=-0.5), "power must be >= 0, got power=-0.5"),
    (dict(transition_steps=0), "transition_steps must be a positive integer"),
    (dict(transition_steps=2.5), "transition_steps must be a positive integer"),
  ],
)
def test_power_decay_rejects_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match="^power_decay: " + _escape(message)):
    indian_optax.power_decay(**(dict(init_value=0.1) | kwargs))


def test_valid_edge_values_are_accepted():
  indian_optax.indian(0.0, alpha=0.0, beta=1e-9, weight_decay=0.0, initial_speed=0.0)
  indian_optax.innaprop(0.0, sigma=0.0, eps=1e-30, weight_decay=0.0)
  indian_optax.indian(0.1, weight_decay=None, decoupled_weight_decay=None)


def test_traced_hyperparameters_are_not_checked():
  params = jnp.ones(3)

  @jax.jit
  def step(alpha, beta, lr):
    tx = indian_optax.indian(lr, alpha, beta)
    return tx.update(params, tx.init(params))[0]

  # Invalid values pass through when traced: the check needs concrete values.
  assert step(-1.0, 0.1, 0.1).shape == (3,)


@pytest.mark.parametrize(
  "factory",
  [
    lambda: indian_optax.indian(0.1, weight_decay=1e-4),
    lambda: indian_optax.indian(0.1, decoupled_weight_decay=1e-2),
    lambda: indian_optax.innaprop(1e-3),
  ],
)
def test_weight_decay_without_params_says_params_are_needed(factory):
  tx = factory()
  params = jnp.ones(3)
  with pytest.raises(ValueError, match="weight decay needs the params"):
    tx.update(params, tx.init(params))


def test_gradients_of_another_tree_fail_with_a_clear_assertion():
  tx = indian_optax.indian(0.1)
  state = tx.init({"a": jnp.ones(3), "b": jnp.ones(2)})
  with pytest.raises(AssertionError, match="the gradients must match the params"):
    tx.update({"a": jnp.ones(3)}, state)


def test_gradients_of_another_shape_fail_at_trace_time():
  tx = indian_optax.indian(0.1)
  state = tx.init({"a": jnp.ones(3)})
  with pytest.raises(AssertionError, match="the gradients must match the params"):
    jax.jit(tx.update)({"a": jnp.ones(4)}, state)


def test_innaprop_without_params_says_psi_needs_them():
  tx = indian_optax.innaprop(1e-3, weight_decay=0.0)
  params = jnp.ones(3)
  with pytest.raises(ValueError, match=r"\(psi - theta\) needs the params: call update"):
    tx.update(params, tx.init(params))


@pytest.mark.parametrize("factory", [indian_optax.indian, indian_optax.innaprop])
def test_integer_params_are_refused_with_the_leaf_named(factory):
  with pytest.raises(ValueError, match=r"params\['steps'\] has dtype int32: only floating"):
    factory(0.1).init({"w": jnp.ones(2), "steps": jnp.arange(3)})


def test_psi_from_state_needs_exactly_one_inertial_state():
  params = jnp.ones(2)
  with pytest.raises(ValueError, match="expected exactly one IndianState"):
    indian_optax.psi_from_state(optax.EmptyState(), params, alpha=0.5, beta=0.1)


def _escape(text):
  import re

  return re.escape(text)

"""Every error of the core, asserted in full: what was wrong, with which argument, what to do.

Where a mistake can only be seen at run time (a traced alpha changed without params), the
documented behaviour is asserted instead.
"""

import math
import re
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import indian_optax


def raises_exactly(exception, message):
  """The whole message (under jit, JAX may append a note on its filtered traceback)."""
  jax_note = r"(\n-+\nFor simplicity, JAX has removed its internal frames.*)?"
  return pytest.raises(exception, match="(?s)^" + re.escape(message) + jax_note + "$")


# ---------------------------------------------------------------- hyperparameters
BAD_INDIAN = [
  (dict(beta=0.0), "beta must be > 0, got beta=0.0."),
  (dict(beta=-1.0), "beta must be > 0, got beta=-1.0."),
  (dict(alpha=-0.5), "alpha must be >= 0, got alpha=-0.5."),
  (dict(learning_rate=-0.1), "learning_rate must be >= 0, got learning_rate=-0.1."),
  (dict(alpha=math.nan), "alpha must be finite, got alpha=nan."),
  (dict(beta=math.inf), "beta must be finite, got beta=inf."),
  (dict(learning_rate=jnp.inf), "learning_rate must be finite, got learning_rate=inf."),
  (dict(weight_decay=-1e-4), "weight_decay must be >= 0, got weight_decay=-0.0001."),
  (dict(weight_decay=math.nan), "weight_decay must be finite, got weight_decay=nan."),
  (dict(initial_speed=-1.0), "initial_speed must be >= 0, got initial_speed=-1.0."),
  (dict(initial_speed=math.inf), "initial_speed must be finite, got initial_speed=inf."),
  (
    dict(decoupled_weight_decay=-0.1),
    "decoupled_weight_decay must be >= 0, got decoupled_weight_decay=-0.1.",
  ),
  (dict(state_dtype=jnp.int32), "state_dtype must be a floating dtype, got state_dtype=int32."),
  # Types and shapes: every wrong one named, before any update.
  (
    dict(learning_rate=None),
    "learning_rate must be a number or a schedule, got learning_rate=None.",
  ),
  (dict(alpha=None), "alpha must be a number or a schedule, got alpha=None."),
  (dict(alpha="0.5"), "alpha must be a number or a schedule, got alpha='0.5'."),
  (dict(beta=b"0.1"), "beta must be a number or a schedule, got beta=b'0.1'."),
  (dict(beta=True), "beta must be a number or a schedule, got beta=True."),
  (dict(beta=[0.1, 0.2]), "beta must be a number or a schedule, got beta=[0.1, 0.2]."),
  (dict(beta=jnp.array([0.1, 0.2])), "beta must be a scalar, got beta=an array of shape (2,)."),
  (
    dict(learning_rate=np.ones((1,))),
    "learning_rate must be a scalar, got learning_rate=an array of shape (1,).",
  ),
  (dict(alpha=jnp.array(0.5 + 0.5j)), "alpha must be real, got alpha=(0.5+0.5j)."),
  (
    dict(weight_decay="1e-4"),
    "weight_decay must be a number or a schedule (or None), got weight_decay='1e-4'.",
  ),
  (dict(initial_speed="1"), "initial_speed must be a number (or None), got initial_speed='1'."),
  (dict(mask=[1, 0]), "mask must be a tree of bools or a callable of the params, got mask=[1, 0]."),
  (
    dict(mask={"w": "yes"}),
    "mask must be a tree of bools or a callable of the params, got mask={'w': 'yes'}.",
  ),
]  # fmt: skip


@pytest.mark.parametrize("kwargs, message", BAD_INDIAN)
def test_indian_names_the_bad_hyperparameter(kwargs, message):
  with raises_exactly(indian_optax.HyperparameterError, "indian: " + message):
    indian_optax.indian(**(dict(learning_rate=0.1) | kwargs))


BAD_INNAPROP = [
  (dict(sigma=1.0), "sigma must be < 1, got sigma=1.0."),
  (dict(sigma=-0.1), "sigma must be >= 0, got sigma=-0.1."),
  (dict(eps=-1e-8), "eps must be > 0, got eps=-1e-08."),
  (dict(eps=0.0), "eps must be > 0, got eps=0.0."),
  (dict(weight_decay=-0.01), "weight_decay must be >= 0, got weight_decay=-0.01."),
  (dict(beta=0.0), "beta must be > 0, got beta=0.0."),
  (dict(sigma=math.nan), "sigma must be finite, got sigma=nan."),
  (dict(sigma=None), "sigma must be a number, got sigma=None."),
  (dict(eps="1e-8"), "eps must be a number, got eps='1e-8'."),
  (
    dict(weight_decay=[0.01]),
    "weight_decay must be a number or a schedule (or None), got weight_decay=[0.01].",
  ),
]  # fmt: skip


@pytest.mark.parametrize("name", ["sigma", "eps"])
def test_innaprop_refuses_a_schedule_where_it_has_no_meaning(name):
  """The bias correction 1 - sigma^k holds for one sigma: a schedule is refused, by name."""
  schedule = optax.constant_schedule(0.9)
  message = f"innaprop: {name} must be a number: a schedule is not supported for {name}, got "
  with pytest.raises(indian_optax.HyperparameterError, match="^" + re.escape(message)):
    indian_optax.innaprop(1e-3, **{name: schedule})


def test_a_schedule_must_give_a_scalar():
  tx = indian_optax.indian(lambda count: jnp.full(3, 0.1))
  params = jnp.ones(3)
  message = (
    "indian: learning_rate must be a scalar, got learning_rate=a schedule returning an array of "
    "shape (3,)."
  )
  with raises_exactly(indian_optax.HyperparameterError, message):
    tx.update(params, tx.init(params))


def test_a_traced_hyperparameter_of_the_wrong_shape_is_named_at_trace_time():
  params = jnp.ones(3)
  step = lambda lr: indian_optax.indian(lr).update(params, indian_optax.indian(0.1).init(params))
  message = "indian: learning_rate must be a scalar, got learning_rate=an array of shape (3,)."
  with raises_exactly(indian_optax.HyperparameterError, message):
    jax.jit(step)(jnp.ones(3))


def test_complex_hyperparameters_from_inject_hyperparams_warn_nothing():
  """inject_hyperparams casts the hyperparameters to complex params' dtype at init."""
  params = {"z": jnp.array([1 + 2j, -0.5j])}
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    for factory in (indian_optax.indian, indian_optax.innaprop):
      optax.inject_hyperparams(factory)(0.1).init(params)


@pytest.mark.parametrize("kwargs, message", BAD_INNAPROP)
def test_innaprop_names_the_bad_hyperparameter(kwargs, message):
  with raises_exactly(indian_optax.HyperparameterError, "innaprop: " + message):
    indian_optax.innaprop(**(dict(learning_rate=1e-3) | kwargs))


def test_the_rms_scaling_names_its_bad_hyperparameter():
  with raises_exactly(ValueError, "scale_by_bias_corrected_rms: sigma must be < 1, got sigma=1.5."):
    indian_optax.scale_by_bias_corrected_rms(1.5)


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(init_value=-1.0), "init_value must be >= 0, got init_value=-1.0."),
    (dict(power=-0.5), "power must be >= 0, got power=-0.5."),
    (
      dict(transition_steps=0),
      "transition_steps must be a positive integer, got transition_steps=0.",
    ),
    (
      dict(transition_steps=2.5),
      "transition_steps must be a positive integer, got transition_steps=2.5.",
    ),
  ],
)
def test_power_decay_names_the_bad_argument(kwargs, message):
  with raises_exactly(ValueError, "power_decay: " + message):
    indian_optax.power_decay(**(dict(init_value=0.1) | kwargs))


def test_the_error_carries_what_was_wrong():
  with pytest.raises(indian_optax.HyperparameterError) as caught:
    indian_optax.indian(0.1, beta=jnp.asarray(-1.0))
  error = caught.value
  assert (error.owner, error.name, error.requirement, error.value) == (
    "indian",
    "beta",
    "> 0",
    -1.0,
  )


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


# ---------------------------------------------------------------- params needed by update
CALL = ": call update(updates, state, params)."
WITHOUT_PARAMS = [
  (lambda: indian_optax.indian(0.1, weight_decay=0.0), "indian: weight_decay needs the params"),
  (
    lambda: indian_optax.indian(0.1, decoupled_weight_decay=1e-2),
    "indian: decoupled_weight_decay needs the params",
  ),
  (
    lambda: indian_optax.indian(0.1, weight_decay=1e-4, decoupled_weight_decay=1e-2),
    "indian: weight_decay and decoupled_weight_decay need the params",
  ),
  (
    lambda: indian_optax.indian(0.1, alpha=optax.linear_schedule(0.5, 1.0, 10)),
    "indian: a schedule of alpha or beta needs the params",
  ),
  (lambda: indian_optax.innaprop(1e-3), "innaprop: weight_decay needs the params"),
  (
    lambda: indian_optax.innaprop(1e-3, beta=optax.constant_schedule(0.9), weight_decay=None),
    "innaprop: a schedule of alpha or beta needs the params",
  ),
]


@pytest.mark.parametrize("make, message", WITHOUT_PARAMS)
def test_update_without_params_says_which_option_needs_them(make, message):
  tx, params = make(), jnp.ones(3)
  with raises_exactly(ValueError, message + CALL):
    tx.update(params, tx.init(params))


CHANGED = (
  ": alpha or beta changed since the last step, and carrying the momentum over to the new "
  "values needs the params" + CALL
)


@pytest.mark.parametrize("name", ["indian", "innaprop"])
def test_a_concrete_change_of_alpha_without_params_is_an_error(name):
  tx = optax.inject_hyperparams(getattr(indian_optax, name))(0.1, alpha=0.5, weight_decay=None)
  params = jnp.ones(3)
  _, state = tx.update(params, tx.init(params))  # unchanged: no params needed
  state.hyperparams["alpha"] = jnp.asarray(1.5)
  with raises_exactly(ValueError, name + CHANGED):
    tx.update(params, state)


@pytest.mark.parametrize("name", ["indian", "innaprop"])
def test_a_traced_change_of_alpha_without_params_stops_the_run_and_never_costs_the_params(name):
  """Under jit the change is seen at run time only: the step raises (a host callback on that
  path alone) with the message, and a retry with the params carries on from where it was."""
  tx = optax.inject_hyperparams(getattr(indian_optax, name))(0.1, alpha=0.5, weight_decay=None)
  params = jnp.ones(3)
  update = jax.jit(tx.update)
  updates, state = update(params, tx.init(params))
  params = optax.apply_updates(params, updates)
  state.hyperparams["alpha"] = jnp.asarray(1.5)
  with pytest.raises(jax.errors.JaxRuntimeError, match=re.escape(name + CHANGED)):
    jax.block_until_ready(update(params, state))
  updates, carried = update(params, state, params)
  chex.assert_tree_all_finite((updates, carried))
  assert int(carried.inner_state.count) == 2


def test_a_refused_step_moves_nothing():
  """What the refused step computes, were the callback's error lost: zero updates, the
  state as it was."""
  from indian_optax._inertial import _indian_leaf, _Scalars

  g, phi = jnp.array([1.0, -2.0]), jnp.array([0.3, 0.4])
  scalars = _Scalars(*map(jnp.asarray, (0.1, 0.5, 0.2, False)), refused=jnp.asarray(True))
  u, new_phi = _indian_leaf(g, phi, scalars=scalars)
  np.testing.assert_array_equal(u, jnp.zeros(2))
  np.testing.assert_array_equal(new_phi, phi)
  u, new_phi = _indian_leaf(g, phi, scalars=scalars._replace(refused=jnp.asarray(False)))
  assert np.all(u != 0) and np.all(new_phi != phi)


def test_a_sweep_that_changes_alpha_without_params_in_one_column_raises():
  tx = optax.inject_hyperparams(indian_optax.indian)(0.1, alpha=0.5)
  params = jnp.ones((4, 3))

  def two_steps(new_alpha, params):
    state = tx.init(params)
    _, state = tx.update(params, state)
    state.hyperparams["alpha"] = new_alpha
    return tx.update(params, state)[0]

  unchanged = jax.jit(jax.vmap(two_steps))(jnp.full(4, 0.5), params)
  chex.assert_tree_all_finite(unchanged)
  with pytest.raises(jax.errors.JaxRuntimeError, match=re.escape("indian" + CHANGED)):
    jax.block_until_ready(jax.jit(jax.vmap(two_steps))(jnp.array([0.5, 0.5, 1.5, 0.5]), params))


def test_a_low_precision_hyperparameter_says_how_it_came_to_be():
  """inject_hyperparams casts to bfloat16 params' dtype: sigma = 0.999 becomes 1.0."""
  message = (
    "innaprop: sigma must be < 1, got sigma=1.0. (a bfloat16 value: optax.inject_hyperparams "
    "casts to the params' dtype; pass hyperparam_dtype=jnp.float32)"
  )
  with raises_exactly(indian_optax.HyperparameterError, message):
    optax.inject_hyperparams(indian_optax.innaprop)(1e-3).init(jnp.ones(3, jnp.bfloat16))


# ---------------------------------------------------------------- trees and dtypes
def test_gradients_of_another_tree_fail_with_the_owner_named():
  tx = indian_optax.indian(0.1)
  state = tx.init({"a": jnp.ones(3), "b": jnp.ones(2)})
  message = (
    "indian: the gradients must have the tree and shapes of the params the state was built "
    "from: got PyTreeDef({'a': *}), expected PyTreeDef({'a': *, 'b': *})."
  )
  with raises_exactly(ValueError, message):
    tx.update({"a": jnp.ones(3)}, state)


@pytest.mark.parametrize("factory", [indian_optax.indian, indian_optax.innaprop])
def test_gradients_of_another_shape_fail_at_trace_time(factory):
  tx = factory(0.1)
  state = tx.init({"a": jnp.ones(3)})
  message = (
    f"{factory.__name__}: the gradients must have the tree and shapes of the params the state "
    "was built from: ['a'] has shape (4,) in the gradients, (3,) in the params."
  )
  with raises_exactly(ValueError, message):
    jax.jit(tx.update)({"a": jnp.ones(4)}, state, {"a": jnp.ones(4)})


@pytest.mark.parametrize("factory", [indian_optax.indian, indian_optax.innaprop])
def test_integer_params_are_refused_with_the_leaf_named(factory):
  message = (
    f"{factory.__name__}: params['steps'] has dtype int32: only floating or complex params can "
    "be optimized (cast it, or leave it out with optax.masked)"
  )
  with raises_exactly(ValueError, message):
    factory(0.1).init({"w": jnp.ones(2), "steps": jnp.arange(3)})


def test_psi_from_state_needs_exactly_one_inertial_state():
  message = "psi_from_state: the state must hold exactly one IndianState or InnapropState, found 0."
  with raises_exactly(ValueError, message):
    indian_optax.psi_from_state(optax.EmptyState(), jnp.ones(2))


# ---------------------------------------------------------------- deprecations (one release)
def test_deprecated_names_still_work_and_warn():
  params = jnp.ones(2)
  with pytest.warns(DeprecationWarning, match="scale_by_indian is deprecated: use indian_optax"):
    assert indian_optax.scale_by_indian is indian_optax.indian
  with pytest.warns(DeprecationWarning, match="scale_by_indian_psi is deprecated"):
    tx = indian_optax.scale_by_indian_psi(0.1, decoupled_weight_decay=0.01)
  with (
    pytest.warns(DeprecationWarning),
    raises_exactly(ValueError, "scale_by_indian_psi: beta must be > 0, got beta=0.0."),
  ):
    indian_optax.scale_by_indian_psi(0.1, beta=0.0)
  with pytest.warns(DeprecationWarning, match="IndianPsiState is deprecated"):
    assert indian_optax.IndianPsiState is indian_optax.IndianState
  state = tx.init(params)
  expected = indian_optax.indian(0.1, 0.1, 0.9, decoupled_weight_decay=0.01)
  chex.assert_trees_all_equal(
    tx.update(params, state, params), expected.update(params, state, params)
  )
  with pytest.warns(DeprecationWarning, match="alpha and beta are read from the state"):
    psi = indian_optax.psi_from_state(state, params, alpha=0.5, beta=0.1)
  np.testing.assert_allclose(psi, (1 - 0.1 * 0.9) * params)


@pytest.mark.parametrize("name", ["indian", "innaprop"])
def test_a_refused_step_returns_zero_updates_and_the_state_as_it_was(name, monkeypatch):
  """Were the run-time error lost (the callback made silent here), the refused step still
  moves nothing: zero updates, the count, alpha*beta, phi and v as they were."""
  from indian_optax import _inertial

  monkeypatch.setattr(_inertial, "_raise_if_refused", lambda owner, refused: None)
  tx = optax.inject_hyperparams(getattr(indian_optax, name))(0.1, alpha=0.5, weight_decay=None)
  params = jnp.ones(3)
  update = jax.jit(tx.update)
  _, state = update(params, tx.init(params))
  state.hyperparams["alpha"] = jnp.asarray(1.5)
  updates, refused = update(params, state)
  np.testing.assert_array_equal(updates, jnp.zeros(3))
  chex.assert_trees_all_equal(refused.inner_state, state.inner_state)


def test_a_sweep_without_params_calls_the_host_once_per_step_at_most(monkeypatch):
  """Under vmap the refusal is checked once for the whole batch, not once per column."""
  from indian_optax import _inertial

  calls = []
  monkeypatch.setattr(_inertial, "_raise_if_refused", lambda owner, refused: calls.append(1))
  params = jnp.ones(3)

  def run(alpha):
    tx = indian_optax.indian(0.1, alpha)
    step = lambda state, _: (tx.update(params, state)[1], None)
    return jax.lax.scan(step, tx.init(params), None, length=5)[0].count

  jax.block_until_ready(jax.jit(jax.vmap(run))(jnp.linspace(0.1, 1.0, 8)))
  assert calls == []  # alpha never changes: the callback's branch never runs
  text = jax.jit(jax.vmap(run)).lower(jnp.linspace(0.1, 1.0, 64)).as_text()
  assert text.count("callback") <= 2, "one host callback per step, not one per column"


def test_psi_from_state_of_a_vmapped_sweep_says_to_map_it():
  params = jnp.ones((3, 2))
  alphas = jnp.array([0.1, 0.5, 2.0])
  states = jax.vmap(lambda a, p: indian_optax.indian(0.1, a).init(p))(alphas, params)
  with pytest.raises(ValueError, match=re.escape("jax.vmap(psi_from_state)(state, params)")):
    indian_optax.psi_from_state(states, params)
  psi = jax.vmap(indian_optax.psi_from_state)(states, params)
  np.testing.assert_allclose(psi[:, 0], 1 - 0.1 * alphas, rtol=1e-6)


def test_psi_from_state_refuses_params_of_another_tree():
  state = indian_optax.indian(0.1).init({"a": jnp.ones(2), "b": jnp.ones(3)})
  with pytest.raises(ValueError, match="^psi_from_state: params must be the tree the state"):
    indian_optax.psi_from_state(state, [jnp.ones(2), jnp.ones(3)])


def test_masks_of_jax_bools_are_accepted_and_a_callable_must_give_bools():
  params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
  tx = indian_optax.indian(0.1, weight_decay=0.1, mask={"w": jnp.array(True), "b": np.False_})
  updates, _ = tx.update(params, tx.init(params), params)
  plain = indian_optax.indian(0.1)
  expected, _ = plain.update(params, plain.init(params), params)
  np.testing.assert_array_equal(updates["b"], expected["b"])
  assert not np.array_equal(updates["w"], expected["w"])
  tx = indian_optax.indian(0.1, weight_decay=0.1, mask=lambda p: jax.tree.map(jnp.ndim, p))
  with pytest.raises(ValueError, match=r"^indian: mask\(params\) must give a tree of bools"):
    tx.update(params, tx.init(params), params)

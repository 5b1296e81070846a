"""Optax's shared optimizer test families, in this project's words, for INDIAN and INNAprop.

Optax runs these on its own optimizers (alias_test.py, contrib/_common_test.py, the
float64, sharding and wrapper tests). Where an optimizer here legitimately differs,
the test that shows the difference says so (see the "legitimate differences" tests).
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from problems import tree

import indian_optax

STEPS = 10_000
# Settings that solve Optax's targets (real and complex) in STEPS steps.
SOLVERS = {
  "indian": lambda: indian_optax.indian(0.01, alpha=1.0, beta=0.1),
  "innaprop": lambda: indian_optax.innaprop(
    optax.cosine_decay_schedule(1e-2, STEPS), weight_decay=0.0
  ),
}
FACTORIES = {"indian": indian_optax.indian, "innaprop": indian_optax.innaprop}
NAMES = sorted(FACTORIES)


def abs_sq(x):
  return (x * jnp.conj(x)).real


def parabola(dtype):
  initial, final = jnp.array([-1.0, 10.0, 1.0], dtype), jnp.array([1.0, -1.0, 1.0], dtype)
  final = final * (1 + 1j) if jnp.iscomplexobj(final) else final
  return initial, final, lambda p: jnp.sum(abs_sq(p - final))


def rosenbrock(dtype):
  a = (1 + 1j) if jnp.issubdtype(dtype, jnp.complexfloating) else 1.0
  initial, final = jnp.array([0.0, 0.0], dtype), jnp.array([a, a**2], dtype)
  return initial, final, lambda p: abs_sq(a - p[0]) + 100.0 * abs_sq(p[1] - p[0] ** 2)


def solve(tx, objective, params, steps=STEPS):
  def step(_, carry):
    params, state = carry
    # As Optax does: complex gradients are conjugated before the update.
    grads = jax.tree.map(jnp.conj, jax.grad(objective)(params))
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  return jax.jit(lambda p: jax.lax.fori_loop(0, steps, step, (p, tx.init(p))))(params)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("target", [parabola, rosenbrock])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_optimization_of_optax_targets_real_and_complex(name, target, dtype):
  initial, final, objective = target(dtype)
  params, _ = solve(SOLVERS[name](), objective, initial)
  assert params.dtype == dtype
  np.testing.assert_allclose(params, final, rtol=1e-2, atol=1e-2)


def test_indian_on_complex_params_is_indian_on_their_real_pairs(float64):
  """INDIAN's step is linear: z = x + iy moves exactly as the pair (x, y) does."""
  initial, _, objective = rosenbrock(jnp.complex128)
  pairs = lambda v: objective(v[0] + 1j * v[1])
  as_complex, _ = solve(indian_optax.indian(0.01, 1.0, 0.1), objective, initial, steps=200)
  as_pairs, _ = solve(
    indian_optax.indian(0.01, 1.0, 0.1), pairs, jnp.stack([initial.real, initial.imag]), 200
  )
  np.testing.assert_allclose(as_complex, as_pairs[0] + 1j * as_pairs[1], rtol=1e-12, atol=1e-14)


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


NUMERIC = {
  "indian": dict(
    learning_rate=0.05, alpha=0.4, beta=0.2, weight_decay=1e-3, decoupled_weight_decay=1e-2,
    initial_speed=1.0,
  ),
  "innaprop": dict(
    learning_rate=1e-2, alpha=0.4, beta=0.8, sigma=0.99, eps=1e-6, weight_decay=1e-2
  ),
}  # fmt: skip


def steps(tx, params, count=5, grads_dtype=None):
  state = tx.init(params)
  update = jax.jit(tx.update)
  history = []
  for k in range(count):
    gradient = lambda p, k=k: jnp.cos(p * (k + 1.0)).astype(grads_dtype or p.dtype)
    grads = jax.tree.map(gradient, params)
    updates, state = update(grads, state, params)
    params = optax.apply_updates(params, updates)
    history.append(updates)
  return params, state, history


@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_equals_the_plain_factory_for_every_numeric_hyperparameter(name):
  hyper = NUMERIC[name]
  _, _, expected = steps(FACTORIES[name](**hyper), tree())
  _, state, got = steps(optax.inject_hyperparams(FACTORIES[name])(**hyper), tree())
  chex.assert_trees_all_close(got, expected, rtol=2e-6, atol=1e-7)
  assert set(hyper) <= set(state.hyperparams)


def test_injected_indian_runs_under_jit_without_params():
  tx = optax.inject_hyperparams(indian_optax.indian)(learning_rate=0.1)
  grads = tree()
  updates, _ = jax.jit(tx.update)(grads, tx.init(grads))
  chex.assert_trees_all_equal_shapes_and_dtypes(updates, grads)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64])
def test_state_is_stable_under_jit_and_lax_cond(name, dtype):
  with jax.enable_x64(dtype == jnp.float64):
    tx = FACTORIES[name](**NUMERIC[name])
    params = tree(dtype)
    state = tx.init(params)

    @jax.jit
    def maybe_step(skip, params, state):
      step = lambda: tx.update(jax.tree.map(jnp.ones_like, params), state, params)
      skipped = lambda: (jax.tree.map(jnp.zeros_like, params), state)
      return jax.lax.cond(skip, skipped, step)

    for skip in (False, True):
      updates, new_state = maybe_step(skip, params, state)
      chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
      chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)


@pytest.mark.parametrize("name", NAMES)
def test_explicit_state_dtype_is_kept_and_updates_follow_the_params(name):
  params = tree(jnp.bfloat16)
  _, state, history = steps(FACTORIES[name](**NUMERIC[name], state_dtype=jnp.float32), params)
  assert {leaf.dtype for leaf in jax.tree.leaves(state) if leaf.ndim} == {jnp.dtype(jnp.float32)}
  chex.assert_trees_all_equal_dtypes(history[-1], params)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
  "params_dtype, grads_dtype", [(jnp.float32, jnp.bfloat16), (jnp.bfloat16, jnp.float32)]
)
def test_mixed_gradient_and_param_dtypes(name, params_dtype, grads_dtype):
  params = tree(params_dtype)
  init_state = FACTORIES[name](**NUMERIC[name]).init(params)
  new_params, state, history = steps(
    FACTORIES[name](**NUMERIC[name]), params, grads_dtype=grads_dtype
  )
  chex.assert_trees_all_equal_shapes_and_dtypes(state, init_state)  # the state keeps its dtype
  chex.assert_trees_all_equal_dtypes(new_params, params)
  # Updates as precise as the more precise of gradient and params, as optax.adam's.
  assert {u.dtype for u in jax.tree.leaves(history[-1])} == {jnp.dtype(jnp.float32)}
  chex.assert_tree_all_finite(new_params)


@pytest.mark.parametrize("name", NAMES)
def test_multisteps_equals_one_step_on_the_mean_gradient(name):
  params = tree()
  grads = [jax.tree.map(lambda p, k=k: jnp.sin(p + k), params) for k in range(3)]
  mean = jax.tree.map(lambda *g: sum(g) / 3, *grads)
  inner = FACTORIES[name](**NUMERIC[name])
  expected, _ = inner.update(mean, inner.init(params), params)
  multi = optax.MultiSteps(FACTORIES[name](**NUMERIC[name]), every_k_schedule=3)
  state = multi.init(params)
  for g in grads:
    updates, state = multi.update(g, state, params)
  chex.assert_trees_all_close(updates, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
  "params",
  [
    {"empty": jnp.zeros((0, 3)), "w": jnp.ones(2)},
    jnp.asarray(1.5),
    3.0,
    {},
    {"w": jnp.ones(2), "none": None},
  ],
  ids=["zero_size", "scalar", "python_float", "empty_tree", "none_leaf"],
)
def test_odd_trees(name, params):
  tx = FACTORIES[name](**NUMERIC[name])
  state = tx.init(params)
  grads = jax.tree.map(lambda p: jnp.ones_like(jnp.asarray(p)), params)
  updates, new_state = jax.jit(tx.update)(grads, state, params)
  assert jax.tree.structure(updates) == jax.tree.structure(grads)
  chex.assert_trees_all_equal_shapes_and_dtypes(new_state, jax.tree.map(jnp.asarray, state))
  chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", NAMES)
def test_init_from_shape_dtype_structs_and_under_eval_shape(name):
  tx = FACTORIES[name](**NUMERIC[name])
  params = tree()
  abstract = jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype), params)
  concrete = tx.init(params)
  chex.assert_trees_all_equal_shapes_and_dtypes(tx.init(abstract), concrete)
  chex.assert_trees_all_equal_shapes_and_dtypes(jax.eval_shape(tx.init, abstract), concrete)


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_schedules(name):
  hyper = NUMERIC[name] | {"learning_rate": optax.linear_schedule(0.05, 0.0, 4)}
  _, state, history = steps(FACTORIES[name](**hyper), tree(), count=6)
  chex.assert_trees_all_equal(history[-1], jax.tree.map(jnp.zeros_like, history[-1]))


@pytest.mark.parametrize("name", NAMES)
def test_wrappers_masked_multi_transform_and_chain_with_clipping(name):
  params = {"a": jnp.ones(3), "b": jnp.ones(2)}
  grads = jax.tree.map(jnp.cos, params)
  make = functools.partial(FACTORIES[name], **NUMERIC[name])
  masked = optax.masked(make(), {"a": True, "b": False})
  updates, _ = masked.update(grads, masked.init(params), params)
  np.testing.assert_array_equal(updates["b"], grads["b"])  # untouched where masked out
  expected, _ = make().update(
    {"a": grads["a"]}, make().init({"a": params["a"]}), {"a": params["a"]}
  )
  np.testing.assert_allclose(updates["a"], expected["a"], rtol=1e-6)
  split = optax.multi_transform({"ours": make(), "sgd": optax.sgd(0.1)}, {"a": "ours", "b": "sgd"})
  updates, _ = split.update(grads, split.init(params), params)
  np.testing.assert_allclose(updates["b"], -0.1 * grads["b"], rtol=1e-6)
  clipped = optax.chain(optax.clip_by_global_norm(1e-3), make())
  updates, _ = clipped.update(grads, clipped.init(params), params)
  chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", NAMES)
def test_apply_if_finite_skips_a_nan_gradient(name):
  tx = optax.apply_if_finite(FACTORIES[name](**NUMERIC[name]), max_consecutive_errors=3)
  params = tree()
  state = tx.init(params)
  bad = jax.tree.map(lambda p: jnp.full_like(p, jnp.nan), params)
  updates, new_state = tx.update(bad, state, params)
  chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, params))
  chex.assert_trees_all_equal(new_state.inner_state, state.inner_state)


# Legitimate differences ---------------------------------------------------------


def test_legitimate_difference_innaprop_state_is_a_chain_with_two_counts():
  """INNAprop is optax.chain(scale_by_bias_corrected_rms, scale_by_indian_psi): its state
  is a tuple of the two states, each with its own count, not one state with one count."""
  rms, inertial = indian_optax.innaprop(1e-3).init(tree())
  assert isinstance(rms, indian_optax.ScaleByBiasCorrectedRmsState)
  assert isinstance(inertial, indian_optax.IndianPsiState)


def test_legitimate_difference_an_update_that_needs_params_fails_without_them():
  """INNAprop (always) and INDIAN with a weight decay or a schedule of alpha/beta need
  params in update; inside optax.masked or any wrapper that passes none they raise."""
  params = {"a": jnp.ones(3)}
  for tx in (indian_optax.innaprop(1e-3), indian_optax.indian(0.1, weight_decay=1e-4)):
    masked = optax.masked(tx, {"a": True})
    with pytest.raises(ValueError, match="needs the params"):
      masked.update(params, masked.init(params))


def test_legitimate_difference_integer_params_are_refused():
  """Optax's optimizers accept integer params and return garbage steps for them."""
  with pytest.raises(ValueError, match="only floating or complex params"):
    indian_optax.indian(0.1).init(jnp.arange(3))


@pytest.mark.parametrize("name", NAMES)
def test_optax_contrib_inject_hyperparams_check_as_written(name):
  """Optax's contrib/_common_test.py test_optimizers_can_be_wrapped_in_inject_hyperparams.

  Its equality of the new states needs a state whose structure does not depend on
  whether alpha and beta are Python floats (plain factory) or arrays (injected).
  """
  opt = FACTORIES[name](**NUMERIC[name])
  opt_inject = optax.inject_hyperparams(FACTORIES[name])(**NUMERIC[name])
  params = [jnp.negative(jnp.ones((2, 3))), jnp.ones((2, 5, 2))]
  grads = [jnp.ones((2, 3)), jnp.negative(jnp.ones((2, 5, 2)))]
  updates, new_state = jax.jit(opt.update)(grads, jax.jit(opt.init)(params), params)
  updates_inject, new_state_inject = jax.jit(opt_inject.update)(
    grads, jax.jit(opt_inject.init)(params), params
  )
  chex.assert_trees_all_close(updates_inject, updates, rtol=1e-5)
  chex.assert_trees_all_close(new_state_inject.inner_state, new_state, rtol=1e-5, atol=1e-5)

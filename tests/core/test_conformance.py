"""Optax's test families, one parametrised module for both optimizers (as Optax's own
``contrib/_common_test.py`` runs them on every contrib optimizer).

Where an optimizer here legitimately differs from Optax's, the test says so in its name.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from problems import mlp_problem, tree

import indian_optax

FACTORIES = {"indian": indian_optax.indian, "innaprop": indian_optax.innaprop}
NAMES = sorted(FACTORIES)
HYPERPARAMETERS = {
  # Every numeric hyperparameter of each factory, options on.
  "indian": dict(
    learning_rate=0.05, alpha=0.4, beta=0.2, weight_decay=1e-3, decoupled_weight_decay=1e-2,
    initial_speed=1.0,
  ),
  "innaprop": dict(
    learning_rate=1e-2, alpha=0.4, beta=0.8, sigma=0.99, eps=1e-6, weight_decay=1e-2
  ),
}  # fmt: skip


def make(name, **overrides):
  return FACTORIES[name](**(HYPERPARAMETERS[name] | overrides))


def gradients(params, step, dtype=None):
  return jax.tree.map(lambda p: jnp.cos(p * (step + 1.0)).astype(dtype or p.dtype), params)


def run_steps(tx, params, steps=5, grads_dtype=None, pass_params=True):
  """(final params, final state, the updates of every step), each step jitted."""
  state = tx.init(params)
  update = jax.jit(tx.update)
  history = []
  for step in range(steps):
    grads = gradients(params, step, grads_dtype)
    updates, state = update(grads, state, params if pass_params else None)
    params = optax.apply_updates(params, updates)
    history.append(updates)
  return params, state, history


# ---------------------------------------------------------------- 1. Optax's targets
STEPS = 10_000
SOLVERS = {
  "indian": lambda: indian_optax.indian(0.01, alpha=1.0, beta=0.1),
  "innaprop": lambda: indian_optax.innaprop(
    optax.cosine_decay_schedule(1e-2, STEPS), weight_decay=0.0
  ),
}


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
def test_solves_optax_targets_real_and_complex(name, target, dtype):
  initial, final, objective = target(dtype)
  params, _ = solve(SOLVERS[name](), objective, initial)
  assert params.dtype == dtype
  np.testing.assert_allclose(params, final, rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------- 2. inject_hyperparams
@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_gives_the_same_bits_for_every_numeric_hyperparameter(name):
  _, _, expected = run_steps(make(name), tree())
  _, state, got = run_steps(
    optax.inject_hyperparams(FACTORIES[name])(**HYPERPARAMETERS[name]), tree()
  )
  chex.assert_trees_all_equal(got, expected)
  assert set(HYPERPARAMETERS[name]) <= set(state.hyperparams)


@pytest.mark.parametrize("name", NAMES)
def test_optax_contrib_inject_hyperparams_check_as_written(name):
  """Optax's contrib/_common_test.py test_optimizers_can_be_wrapped_in_inject_hyperparams.

  Its comparison of the new states needs a state whose structure does not depend on whether
  alpha and beta are Python floats (plain factory) or arrays (injected).
  """
  opt = make(name)
  opt_inject = optax.inject_hyperparams(FACTORIES[name])(**HYPERPARAMETERS[name])
  params = [jnp.negative(jnp.ones((2, 3))), jnp.ones((2, 5, 2))]
  grads = [jnp.ones((2, 3)), jnp.negative(jnp.ones((2, 5, 2)))]
  updates, new_state = jax.jit(opt.update)(grads, jax.jit(opt.init)(params), params)
  updates_inject, new_state_inject = jax.jit(opt_inject.update)(
    grads, jax.jit(opt_inject.init)(params), params
  )
  chex.assert_trees_all_close(updates_inject, updates, rtol=1e-5)
  chex.assert_trees_all_close(new_state_inject.inner_state, new_state, rtol=1e-5, atol=1e-5)


def test_an_injected_learning_rate_changes_between_steps():
  tx = optax.inject_hyperparams(indian_optax.indian)(learning_rate=0.1)
  params = tree()
  state = tx.init(params)
  state.hyperparams["learning_rate"] = jnp.asarray(0.0)
  updates, _ = tx.update(gradients(params, 0), state, params)
  chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, params))


# ---------------------------------------------------------------- 3. extra arguments
@pytest.mark.parametrize("name", NAMES)
def test_extra_update_arguments_are_accepted_under_jit(name):
  tx, params = make(name), tree()

  @jax.jit
  def step(state):
    return tx.update(gradients(params, 0), state, params, value=jnp.ones(()), key=None)

  updates, _ = step(tx.init(params))
  chex.assert_tree_all_finite(updates)


# ---------------------------------------------------------------- 4. dtypes
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64])
def test_updates_keep_the_params_dtype_the_state_is_at_least_float32_and_survives_lax_cond(
  name, dtype
):
  with jax.enable_x64(dtype == jnp.float64):
    tx, params = make(name), tree(dtype)
    state = tx.init(params)

    @jax.jit
    def maybe_step(skip, params, state):
      step = lambda: tx.update(gradients(params, 0), state, params)
      skipped = lambda: (jax.tree.map(jnp.zeros_like, params), state)
      return jax.lax.cond(skip, skipped, step)

    for skip in (False, True):
      updates, new_state = maybe_step(skip, params, state)
      chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
      chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
      chex.assert_tree_all_finite(updates)
    # A sub-32-bit state stalls over long runs (test_low_precision.py): float32 at least.
    expected = jnp.promote_types(dtype, jnp.float32)
    assert {leaf.dtype for leaf in jax.tree.leaves(state) if leaf.ndim} == {expected}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("state_dtype", [jnp.bfloat16, jnp.float32])
def test_state_dtype_is_honoured_and_updates_come_back_in_the_params_dtype(name, state_dtype):
  params = tree(jnp.bfloat16)
  _, state, history = run_steps(make(name, state_dtype=state_dtype), params)
  assert {leaf.dtype for leaf in jax.tree.leaves(state) if leaf.ndim} == {jnp.dtype(state_dtype)}
  chex.assert_trees_all_equal_shapes_and_dtypes(history[-1], params)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
  "params_dtype, grads_dtype", [(jnp.float32, jnp.bfloat16), (jnp.bfloat16, jnp.float32)]
)
def test_mixed_gradient_and_param_dtypes(name, params_dtype, grads_dtype):
  params = tree(params_dtype)
  init_state = make(name).init(params)
  new_params, state, history = run_steps(make(name), params, grads_dtype=grads_dtype)
  chex.assert_trees_all_equal_shapes_and_dtypes(state, init_state)  # the state keeps its dtype
  chex.assert_trees_all_equal_dtypes(new_params, params)
  # Updates in the gradients' dtype, as Optax's (apply_updates casts to the params').
  assert {u.dtype for u in jax.tree.leaves(history[-1])} == {jnp.dtype(grads_dtype)}
  chex.assert_tree_all_finite(new_params)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("state_dtype", [None, jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize(
  "params_dtype, grads_dtype", [(jnp.float32, jnp.bfloat16), (jnp.bfloat16, jnp.float32)]
)
def test_updates_have_one_dtype_with_or_without_params(
  name, state_dtype, params_dtype, grads_dtype
):
  """The gradients' dtype either way, whatever the state's dtype (the same bits too)."""
  params = tree(params_dtype)
  tx = FACTORIES[name](0.05, state_dtype=state_dtype)
  if name == "innaprop":
    tx = FACTORIES[name](1e-2, weight_decay=None, state_dtype=state_dtype)
  _, _, with_params = run_steps(tx, params, grads_dtype=grads_dtype)
  _, _, without = run_steps(tx, params, grads_dtype=grads_dtype, pass_params=False)
  chex.assert_trees_all_equal(without, with_params)
  assert {u.dtype for u in jax.tree.leaves(without[-1])} == {jnp.dtype(grads_dtype)}


@pytest.mark.parametrize("name", NAMES)
def test_complex_params_keep_a_complex_state_in_a_real_state_dtype(float64, name):
  """state_dtype=float32 for complex128 params: phi is complex64, v real."""
  params = {"z": jnp.array([1 + 2j, -0.5j])}
  tx = make(name, state_dtype=jnp.float32)
  grads = {"z": jnp.array([0.3 - 1j, 2 + 0.5j])}
  updates, inertial = tx.update(grads, tx.init(params), params)
  assert inertial.phi["z"].dtype == jnp.complex64
  exact = make(name)
  expected, _ = exact.update(grads, exact.init(params), params)
  np.testing.assert_allclose(updates["z"], expected["z"], rtol=1e-6)
  assert np.all(np.imag(inertial.phi["z"]) != 0)


# ---------------------------------------------------------------- 5. wrappers
@pytest.mark.parametrize("name", NAMES)
def test_multisteps_equals_one_step_on_the_mean_gradient(name):
  params = tree()
  grads = [jax.tree.map(lambda p, k=k: jnp.sin(p + k), params) for k in range(3)]
  mean = jax.tree.map(lambda *g: sum(g) / 3, *grads)
  inner = make(name)
  expected, _ = inner.update(mean, inner.init(params), params)
  multi = optax.MultiSteps(make(name), every_k_schedule=3)
  state = multi.init(params)
  for g in grads:
    updates, state = multi.update(g, state, params)
  chex.assert_trees_all_close(updates, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_apply_if_finite_skips_a_nan_gradient_and_keeps_the_state(name):
  tx = optax.apply_if_finite(make(name), max_consecutive_errors=3)
  params = tree()
  state = tx.init(params)
  _, state = tx.update(gradients(params, 0), state, params)
  bad = jax.tree.map(lambda p: jnp.full_like(p, jnp.nan), params)
  updates, new_state = jax.jit(tx.update)(bad, state, params)
  chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, params))
  chex.assert_trees_all_equal(new_state.inner_state, state.inner_state)
  assert int(new_state.notfinite_count) == 1


@pytest.mark.parametrize("name", NAMES)
def test_masked_multi_transform_and_chain_with_clipping(name):
  params = {"a": jnp.ones(3), "b": jnp.ones(2)}
  grads = jax.tree.map(jnp.cos, params)
  masked = optax.masked(make(name), {"a": True, "b": False})
  updates, _ = masked.update(grads, masked.init(params), params)
  np.testing.assert_array_equal(updates["b"], grads["b"])  # untouched where masked out
  alone = {"a": params["a"]}
  expected, _ = make(name).update({"a": grads["a"]}, make(name).init(alone), alone)
  np.testing.assert_array_equal(updates["a"], expected["a"])
  split = optax.multi_transform(
    {"ours": make(name), "sgd": optax.sgd(0.1)}, {"a": "ours", "b": "sgd"}
  )
  updates, _ = split.update(grads, split.init(params), params)
  np.testing.assert_allclose(updates["b"], -0.1 * grads["b"], rtol=1e-6)
  clipped = optax.chain(optax.clip_by_global_norm(1e-3), make(name))
  updates, _ = clipped.update(grads, clipped.init(params), params)
  norm = optax.tree.norm(grads)
  by_hand = jax.tree.map(lambda g: g * (1e-3 / norm), grads)  # what the clip hands on
  expected, _ = make(name).update(by_hand, make(name).init(params), params)
  chex.assert_trees_all_close(updates, expected, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_schedules_after_clipping(name):
  schedule = optax.warmup_cosine_decay_schedule(0.0, HYPERPARAMETERS[name]["learning_rate"], 3, 6)
  tx = optax.chain(optax.clip_by_global_norm(1.0), make(name, learning_rate=schedule))
  params, _, history = run_steps(tx, tree(), steps=8)
  zeros = jax.tree.map(jnp.zeros_like, params)
  # The warm-up starts at a zero step, and the cosine ends at one: zero updates, no decay.
  chex.assert_trees_all_equal(history[0], zeros)
  chex.assert_trees_all_equal(history[-1], zeros)


# ---------------------------------------------------------------- 6. compilation
@pytest.mark.parametrize("name", NAMES)
def test_a_second_jitted_call_does_not_retrace(name):
  tx, params = make(name), tree()
  traces = []

  def update(grads, state, params):
    traces.append(1)  # runs only when jax traces the function
    return tx.update(grads, state, params)

  jitted = jax.jit(update)
  state = tx.init(params)
  for step in range(3):
    _, state = jitted(gradients(params, step), state, params)
  assert len(traces) == 1


@pytest.mark.parametrize("name", NAMES)
def test_init_from_shape_dtype_structs_and_under_eval_shape(name):
  tx, params = make(name), tree()
  abstract = jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype), params)
  concrete = tx.init(params)
  chex.assert_trees_all_equal_shapes_and_dtypes(tx.init(abstract), concrete)
  chex.assert_trees_all_equal_shapes_and_dtypes(jax.eval_shape(tx.init, abstract), concrete)


# ---------------------------------------------------------------- 7. trees
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
  tx = make(name)
  state = tx.init(params)
  grads = jax.tree.map(lambda p: jnp.ones_like(jnp.asarray(p)), params)
  updates, new_state = jax.jit(tx.update)(grads, state, params)
  assert jax.tree.structure(updates) == jax.tree.structure(grads)
  chex.assert_trees_all_equal_shapes_and_dtypes(new_state, jax.tree.map(jnp.asarray, state))
  chex.assert_tree_all_finite(updates)


HOW_PASSED = {
  "python_floats": lambda: (0.5, 0.1),
  "numpy_scalars": lambda: (np.float32(0.5), np.float64(0.1)),
  "jax_arrays": lambda: (jnp.asarray(0.5), jnp.asarray(0.1)),
  "schedules": lambda: (optax.constant_schedule(0.5), optax.constant_schedule(0.1)),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("passed", sorted(HOW_PASSED))
def test_the_state_is_the_same_tree_however_alpha_and_beta_are_passed(name, passed):
  params = jnp.ones(3)
  alpha, beta = HOW_PASSED[passed]()
  reference = FACTORIES[name](0.1, alpha=0.5, beta=0.1)
  tx = FACTORIES[name](0.1, alpha=alpha, beta=beta)
  stepped = lambda t: t.update(params, t.init(params), params)[1]
  chex.assert_trees_all_equal_shapes_and_dtypes(tx.init(params), reference.init(params))
  chex.assert_trees_all_equal_shapes_and_dtypes(stepped(tx), stepped(reference))


# ---------------------------------------------------------------- 8. no params
def test_plain_indian_and_innaprop_without_weight_decay_update_without_params():
  """Custom loops call ``tx.update(grads, state)``: the same bits as with the params."""
  params = tree()
  for tx in (
    indian_optax.indian(0.1),
    indian_optax.indian(0.1, initial_speed=2.0),
    indian_optax.innaprop(1e-3, weight_decay=None),
    optax.inject_hyperparams(indian_optax.indian)(learning_rate=0.1),
  ):
    _, _, with_params = run_steps(tx, params, steps=3)
    _, _, without = run_steps(tx, params, steps=3, pass_params=False)
    chex.assert_trees_all_equal(without, with_params)


# ---------------------------------------------------------------- 9. vmap over hyperparameters
def train_mlp(tx_factory, steps=40):
  loss, params = mlp_problem()
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)

  def train(*hyper):
    tx = tx_factory(*hyper)

    def body(carry, _):
      params, state = carry
      updates, state = tx.update(jax.grad(loss)(params), state, params)
      return (optax.apply_updates(params, updates), state), loss(params)

    (final, _), losses = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
    return final, losses

  return train


SWEEPS = {
  "indian": (
    lambda alpha, beta, lr: indian_optax.indian(lr, alpha, beta),
    [[0.1, 0.5, 1.0, 2.0], [0.05, 0.1, 0.5, 1.0], [0.1, 0.05, 0.02, 0.1]],
  ),
  "innaprop": (
    lambda alpha, beta, sigma, lr: indian_optax.innaprop(lr, alpha, beta, sigma),
    [[0.1, 2.0, 1.0], [0.9, 2.0, 1.0], [0.999, 0.99, 0.9], [1e-3, 5e-4, 1e-3]],
  ),
}


@pytest.mark.parametrize("name", NAMES)
def test_vmapped_sweep_equals_per_configuration_runs(float64, name):
  """Equal to 1e-10: the batched matrix products of the MLP's gradient may sum in another
  order than the unbatched ones (the optimizer's own arithmetic is bitwise equal, see
  test_same_bits.py)."""
  factory, grid = SWEEPS[name]
  train = train_mlp(factory)
  columns = [jnp.asarray(column, jnp.float64) for column in grid]
  swept, swept_losses = jax.jit(jax.vmap(train))(*columns)
  for i in range(len(grid[0])):
    final, losses = jax.jit(train)(*(column[i] for column in columns))
    chex.assert_trees_all_close(jax.tree.map(lambda x, i=i: x[i], swept), final, rtol=1e-10)
    np.testing.assert_allclose(swept_losses[i], losses, rtol=1e-10)


# ---------------------------------------------------------------- legitimate differences
def test_innaprop_state_has_one_count_that_optax_tree_get_finds():
  """The RMS scaling and INDIAN's step share one count: optax.tree.get has one answer."""
  tx, params = make("innaprop"), tree()
  state = tx.init(params)
  assert isinstance(state, indian_optax.InnapropState)
  for _ in range(3):
    _, state = tx.update(gradients(params, 0), state, params)
  assert int(optax.tree.get(state, "count")) == 3
  chained = optax.chain(optax.clip_by_global_norm(1.0), tx)
  assert int(optax.tree.get(chained.init(params), "count")) == 0


def test_legitimate_difference_integer_params_are_refused():
  """Optax's optimizers accept integer params and return garbage steps for them."""
  with pytest.raises(ValueError, match="only floating or complex params"):
    indian_optax.indian(0.1).init(jnp.arange(3))


def test_state_mirrors_the_params():
  params = tree()
  state = indian_optax.indian(0.1).init(params)
  assert isinstance(state, indian_optax.IndianState)
  assert state.count.dtype == jnp.int32 and int(state.count) == 0
  chex.assert_trees_all_equal(state.phi, jax.tree.map(jnp.zeros_like, params))


# ---------------------------------------------------------------- the states people hold
def nnx_optimizer(tx):
  from flax import nnx

  model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  params = nnx.state(model, nnx.Param)
  grads = jax.tree.map(jnp.cos, params)
  return optimizer, model, params, grads


WRAPPERS = {
  "chain": lambda tx: optax.chain(optax.clip_by_global_norm(10.0), tx),
  "inject_hyperparams": lambda tx: tx,  # built by make_wrapped
  "multi_steps": lambda tx: optax.MultiSteps(tx, every_k_schedule=1),
  "masked": lambda tx: optax.masked(tx, {"w": True, "b": False, "nested": {"s": True}}),
}


def make_wrapped(name, wrapper):
  if wrapper == "inject_hyperparams":
    return optax.inject_hyperparams(FACTORIES[name])(**HYPERPARAMETERS[name])
  return WRAPPERS[wrapper](make(name))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_psi_from_state_reads_a_wrapped_state(name, wrapper):
  """psi = phi + (1 - alpha beta) theta, read through the wrappers people use; leaves that
  optax.masked keeps from the optimizer come back as MaskedNode."""
  tx, params = make_wrapped(name, wrapper), tree()
  params, state, _ = run_steps(tx, params, steps=3)
  (inertial,) = [
    s for s in jax.tree.leaves(state, is_leaf=lambda s: hasattr(s, "phi")) if hasattr(s, "phi")
  ]
  psi = indian_optax.psi_from_state(state, params)
  alpha, beta = HYPERPARAMETERS[name]["alpha"], HYPERPARAMETERS[name]["beta"]
  for key in ("w", "nested"):
    expected = jax.tree.map(
      lambda phi, p: phi + (1 - alpha * beta) * p, inertial.phi[key], params[key]
    )
    chex.assert_trees_all_close(psi[key], expected, rtol=1e-6)
  if wrapper == "masked":
    assert isinstance(psi["b"], optax.MaskedNode)
  else:
    np.testing.assert_allclose(
      psi["b"], inertial.phi["b"] + (1 - alpha * beta) * params["b"], rtol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_psi_from_state_reads_a_flax_nnx_optimizer(name):
  optimizer, model, params, grads = nnx_optimizer(make(name))
  optimizer.update(model, grads)
  from flax import nnx

  params = nnx.state(model, nnx.Param)
  psi = indian_optax.psi_from_state(optimizer.opt_state, params)
  alpha, beta = HYPERPARAMETERS[name]["alpha"], HYPERPARAMETERS[name]["beta"]
  phi = optimizer.opt_state.phi
  for key in ("kernel", "bias"):
    expected = phi[key][...] + (1 - alpha * beta) * params[key][...]
    np.testing.assert_allclose(psi[key][...], expected, rtol=1e-6, atol=1e-8)


def test_psi_from_state_names_what_it_needs():
  tx, params = make("indian"), tree()
  state = tx.init(params)
  with pytest.raises(ValueError, match="^psi_from_state: params must be the tree the state"):
    indian_optax.psi_from_state(state, {"w": params["w"]})
  with pytest.raises(ValueError, match="^psi_from_state: the state must hold exactly one"):
    indian_optax.psi_from_state((state, state), params)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_psi_comes_back_in_the_params_dtype(dtype):
  tx, params = make("indian"), tree(dtype)
  params, state, _ = run_steps(tx, params, steps=2)
  psi = indian_optax.psi_from_state(state, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(psi, params)


def test_innaprop_keeps_counting_its_bias_correction_at_the_int32_limit():
  """optax.safe_increment stops at the int32 maximum; v keeps averaging (never taken for a
  refused step)."""
  params = tree()
  tx = optax.inject_hyperparams(indian_optax.innaprop)(
    **(HYPERPARAMETERS["innaprop"] | dict(weight_decay=None))
  )
  state = tx.init(params)
  limit = jnp.asarray(jnp.iinfo(jnp.int32).max, jnp.int32)
  state = state._replace(inner_state=state.inner_state._replace(count=limit))
  updates, new_state = jax.jit(tx.update)(gradients(params, 0), state)
  assert int(new_state.inner_state.count) == int(limit)
  assert all(np.all(new != 0) for new in jax.tree.leaves(new_state.inner_state.nu)), (
    "v was frozen at the step limit"
  )
  chex.assert_tree_all_finite(updates)

"""The Optax conventions every optimizer here honours: inject_hyperparams, dtypes, wrappers."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from problems import mlp_problem, tree

import indian_optax

FACTORIES = {
  "indian": functools.partial(indian_optax.indian, alpha=0.5, beta=0.1),
  "indian_all_options": functools.partial(
    indian_optax.indian,
    alpha=0.5,
    beta=0.1,
    weight_decay=1e-3,
    decoupled_weight_decay=1e-2,
    initial_speed=1.0,
  ),
  "innaprop": indian_optax.innaprop,
}
LEARNING_RATES = {"indian": 0.05, "indian_all_options": 0.05, "innaprop": 1e-2}


def make(name, learning_rate=None, **kwargs):
  return FACTORIES[name](learning_rate or LEARNING_RATES[name], **kwargs)


def gradients(params, step):
  return jax.tree.map(lambda p: jnp.cos(p * (step + 1.0)).astype(p.dtype), params)


def run_steps(tx, params, steps, jit=True):
  state = tx.init(params)
  update = jax.jit(tx.update) if jit else tx.update
  history = []
  for step in range(steps):
    updates, state = update(gradients(params, step), state, params)
    params = optax.apply_updates(params, updates)
    history.append(updates)
  return params, state, history


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_inject_hyperparams_gives_the_same_updates(name):
  hyper = dict(learning_rate=LEARNING_RATES[name], alpha=0.4, beta=0.2)
  plain = FACTORIES[name](**hyper)
  injected = optax.inject_hyperparams(FACTORIES[name])(**hyper)
  _, _, expected = run_steps(plain, tree(), 5)
  _, state, got = run_steps(injected, tree(), 5)
  chex.assert_trees_all_close(got, expected, rtol=1e-6, atol=1e-7)
  assert float(state.hyperparams["alpha"]) == pytest.approx(0.4)


def test_injected_learning_rate_can_change_between_steps():
  tx = optax.inject_hyperparams(indian_optax.indian)(learning_rate=0.1)
  params = tree()
  state = tx.init(params)
  state.hyperparams["learning_rate"] = jnp.asarray(0.0)
  updates, _ = tx.update(gradients(params, 0), state, params)
  chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, params))


def test_inject_hyperparams_with_static_weight_decay_runs_without_params():
  static = ("weight_decay", "decoupled_weight_decay")
  tx = optax.inject_hyperparams(indian_optax.indian, static_args=static)(0.1)
  params = tree()
  updates, _ = jax.jit(tx.update)(gradients(params, 0), tx.init(params))
  chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_extra_update_arguments_are_accepted_under_jit(name):
  tx = make(name)
  params = tree()

  @jax.jit
  def step(state):
    return tx.update(gradients(params, 0), state, params, value=jnp.ones(()), key=None)

  updates, _ = step(tx.init(params))
  chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_updates_and_state_keep_the_params_dtype(name, dtype):
  params = tree(dtype)
  tx = make(name)
  state = tx.init(params)
  updates, new_state = jax.jit(tx.update)(gradients(params, 0), state, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
  # Same types in and out: the state survives lax.scan and lax.cond.
  chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
  for leaf in jax.tree.leaves(state):
    if leaf.ndim:
      assert leaf.dtype == dtype
  chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_float64_params_keep_their_dtype(float64, name):
  params = tree(jnp.float64)
  tx = make(name)
  updates, state = tx.update(gradients(params, 0), tx.init(params), params)
  chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
  assert {leaf.dtype for leaf in jax.tree.leaves(state) if leaf.ndim} == {jnp.dtype(jnp.float64)}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dtype_is_honoured_and_updates_come_back_in_the_params_dtype(name):
  params = tree(jnp.bfloat16)
  tx = make(name, state_dtype=jnp.float32)
  state = tx.init(params)
  updates, new_state = jax.jit(tx.update)(gradients(params, 0), state, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
  assert {leaf.dtype for leaf in jax.tree.leaves(state) if leaf.ndim} == {jnp.dtype(jnp.float32)}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_survives_lax_scan(name):
  params = tree()
  tx = make(name)

  def body(carry, step):
    params, state = carry
    updates, state = tx.update(gradients(params, step), state, params)
    return (optax.apply_updates(params, updates), state), None

  (scanned, _), _ = jax.lax.scan(body, (params, tx.init(params)), jnp.arange(6.0))
  looped, _, _ = run_steps(tx, params, 6)
  chex.assert_trees_all_close(scanned, looped, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_multisteps_accumulates_then_steps_on_the_mean_gradient(name):
  params = tree()
  micro = [gradients(params, k) for k in range(4)]
  tx = optax.MultiSteps(make(name), every_k_schedule=2)
  state = tx.init(params)
  got = params
  for g in micro:
    updates, state = tx.update(g, state, got)
    got = optax.apply_updates(got, updates)

  inner = make(name)
  inner_state = inner.init(params)
  expected = params
  for pair in (micro[:2], micro[2:]):
    mean = jax.tree.map(lambda a, b: (a + b) / 2, *pair)
    updates, inner_state = inner.update(mean, inner_state, expected)
    expected = optax.apply_updates(expected, updates)
  chex.assert_trees_all_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_apply_if_finite_skips_a_nan_gradient_and_keeps_the_state(name):
  params = tree()
  tx = optax.apply_if_finite(make(name), max_consecutive_errors=5)
  state = tx.init(params)
  updates, state = tx.update(gradients(params, 0), state, params)
  params = optax.apply_updates(params, updates)
  bad = jax.tree.map(
    lambda g: g.at[..., 0].set(jnp.nan) if g.ndim else jnp.nan, gradients(params, 1)
  )
  skipped, after = jax.jit(tx.update)(bad, state, params)
  chex.assert_trees_all_equal(skipped, jax.tree.map(jnp.zeros_like, params))
  chex.assert_trees_all_equal(after.inner_state, state.inner_state)
  assert int(after.notfinite_count) == 1


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_second_jitted_call_does_not_recompile(name):
  params = tree()
  tx = make(name)
  update = jax.jit(tx.update)
  state = tx.init(params)
  for step in range(3):
    _, state = update(gradients(params, step), state, params)
  assert update._cache_size() == 1


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_init_works_on_abstract_params(name):
  params = tree()
  abstract = jax.eval_shape(make(name).init, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(abstract, make(name).init(params))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_chains_after_clipping_with_an_optax_schedule(name):
  schedule = optax.warmup_cosine_decay_schedule(0.0, LEARNING_RATES[name], 3, 20)
  tx = optax.chain(optax.clip_by_global_norm(1.0), make(name, learning_rate=schedule))
  params, state, history = run_steps(tx, tree(), 5)
  # Warm-up starts at a zero step size: the first update is exactly zero.
  chex.assert_trees_all_equal(history[0], jax.tree.map(jnp.zeros_like, params))
  chex.assert_tree_all_finite(params)


def test_plain_indian_updates_without_params():
  params = tree()
  tx = indian_optax.indian(0.1)
  updates, _ = jax.jit(tx.update)(gradients(params, 0), tx.init(params))
  chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)


def test_state_mirrors_the_params():
  params = tree()
  state = indian_optax.indian(0.1).init(params)
  assert isinstance(state, indian_optax.IndianState)
  assert state.count.dtype == jnp.int32 and int(state.count) == 0
  chex.assert_trees_all_equal(state.phi, jax.tree.map(jnp.zeros_like, params))
  assert optax.tree.get(state, "phi") is state.phi


# Family 9: a vmapped sweep over hyperparameters equals per-configuration runs.


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


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_vmapped_sweep_equals_per_configuration_runs(float64, name):
  factory, grid = SWEEPS[name]
  train = train_mlp(factory)
  columns = [jnp.asarray(column, jnp.float64) for column in grid]
  swept, swept_losses = jax.jit(jax.vmap(train))(*columns)
  for i in range(len(grid[0])):
    final, losses = jax.jit(train)(*(column[i] for column in columns))
    chex.assert_trees_all_close(jax.tree.map(lambda x, i=i: x[i], swept), final, rtol=1e-10)
    np.testing.assert_allclose(swept_losses[i], losses, rtol=1e-10)

"""8 simulated devices: FSDP (params sharded over 'fsdp') plus data parallelism ('data').

For INDIAN and INNAprop: the state is laid out like the params, the optimizer step
needs no collective at all (it is elementwise on the shards), and 20 steps of
sharded training equal one device's numbers in float64.
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import indian_optax  # noqa: E402

assert jax.device_count() == 8
COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute")

keys = jax.random.split(jax.random.PRNGKey(0), 4)
params0 = {
  "w1": 0.3 * jax.random.normal(keys[0], (16, 32)),
  "b1": jnp.zeros(32),
  "w2": 0.3 * jax.random.normal(keys[1], (32, 4)),
  "b2": jnp.zeros(4),
}
inputs = jax.random.normal(keys[2], (64, 16))
labels = jax.random.randint(keys[3], (64,), 0, 4)


def loss_fn(params, x, y):
  logits = jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def train(tx, params, x, y, steps=20):
  @jax.jit
  def step(params, state):
    grads = jax.grad(loss_fn)(params, x, y)
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  state = tx.init(params)
  for _ in range(steps):
    params, state = step(params, state)
  return params, state


mesh = jax.make_mesh((2, 4), ("data", "fsdp"), axis_types=(AxisType.Auto,) * 2)
specs = {"w1": P("fsdp", None), "b1": P("fsdp"), "w2": P("fsdp", None), "b2": P()}
shard = lambda tree: {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in tree.items()}
batch = NamedSharding(mesh, P(("data", "fsdp")))

for name, make in {
  "indian": lambda: indian_optax.indian(0.1, 0.5, 0.1, weight_decay=1e-3),
  "innaprop": lambda: indian_optax.innaprop(3e-3, 2.0, 2.0),
}.items():
  tx = make()
  sharded_params = shard(params0)
  reference, _ = train(tx, params0, inputs, labels)
  got, state = train(
    tx, sharded_params, jax.device_put(inputs, batch), jax.device_put(labels, batch)
  )
  for key in params0:
    np.testing.assert_allclose(got[key], reference[key], rtol=1e-9, atol=1e-12, err_msg=name)
    assert got[key].sharding.is_equivalent_to(sharded_params[key].sharding, got[key].ndim)
  for path, leaf in jax.tree_util.tree_leaves_with_path(state):
    if leaf.ndim:
      key = path[-1].key
      assert leaf.sharding.is_equivalent_to(sharded_params[key].sharding, leaf.ndim), (name, path)
      assert leaf.addressable_shards[0].data.size == leaf.size // (4 if specs[key] else 1)

  def optimizer_step(params, state, grads, tx=tx):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  grads = shard(jax.tree.map(jnp.ones_like, params0))
  hlo = (
    jax.jit(optimizer_step, donate_argnums=(0, 1))
    .lower(sharded_params, tx.init(sharded_params), grads)
    .compile()
    .as_text()
  )
  found = [op for op in COLLECTIVES if f" {op}(" in hlo or f" {op}-start(" in hlo]
  assert not found, (name, found)
print("ok")

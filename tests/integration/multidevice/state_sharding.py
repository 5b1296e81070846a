"""Run in a fresh process with 8 simulated CPU devices: the state is sharded like the params.

Exits non-zero (with an assertion message) on any failure.
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import indian_optax  # noqa: E402


def check(mesh, name, tx):
  specs = {"w": P("fsdp", "model"), "b": P("model"), "scale": P()}
  params = {"w": jnp.ones((16, 8)), "b": jnp.ones(8), "scale": jnp.ones(())}
  params = {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in params.items()}
  inits = {"eager": tx.init(params)}
  if mesh.axis_types[0] == AxisType.Explicit:
    # Under jit, shardings travel with the types on an Explicit mesh; on an Auto
    # mesh a jitted init is laid out by the caller's out_shardings.
    inits["jit"] = jax.jit(tx.init)(params)
  for how, state in inits.items():
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
      if leaf.ndim == 0:
        continue
      key = path[-1].key
      assert leaf.sharding.is_equivalent_to(params[key].sharding, leaf.ndim), (
        name,
        how,
        jax.tree_util.keystr(path),
        leaf.sharding,
      )

  @jax.jit
  def step(params, state):
    grads = jax.tree.map(jnp.cos, params)
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  new_params, new_state = step(params, tx.init(params))
  for key in params:
    assert new_params[key].sharding.is_equivalent_to(params[key].sharding, params[key].ndim)
  if mesh.axis_types[0] == AxisType.Explicit:
    # Through update and jit, and from abstract params that carry their sharding.
    abstract = {
      k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=v.sharding) for k, v in params.items()
    }
    for how, state in {"update": new_state, "abstract": tx.init(abstract)}.items():
      for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        if leaf.ndim:
          expected = params[path[-1].key].sharding
          assert leaf.sharding.is_equivalent_to(expected, leaf.ndim), (name, how, leaf.sharding)


assert jax.device_count() == 8, jax.devices()
for axis_type in (AxisType.Auto, AxisType.Explicit):
  mesh = jax.make_mesh((4, 2), ("fsdp", "model"), axis_types=(axis_type,) * 2)
  with jax.set_mesh(mesh):
    check(mesh, "indian", indian_optax.indian(0.1, weight_decay=1e-4))
    check(mesh, "innaprop", indian_optax.innaprop(1e-3))
print("ok")

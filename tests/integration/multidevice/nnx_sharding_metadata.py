"""8 simulated devices: Flax NNX sharding annotations on params carry over to optimizer state."""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import indian_optax  # noqa: E402


class MLP(nnx.Module):
  def __init__(self, rngs):
    init = nnx.initializers.lecun_normal()
    self.hidden = nnx.Linear(
      16, 32, rngs=rngs, kernel_init=nnx.with_partitioning(init, ("fsdp", None))
    )
    self.out = nnx.Linear(32, 4, rngs=rngs, kernel_init=nnx.with_partitioning(init, ("fsdp", None)))

  def __call__(self, x):
    return self.out(jax.nn.relu(self.hidden(x)))


mesh = jax.make_mesh((2, 4), ("data", "fsdp"), axis_types=(AxisType.Auto,) * 2)

for name, tx in {
  "indian": indian_optax.indian(0.1),
  "innaprop": indian_optax.innaprop(1e-3),
}.items():

  @nnx.jit
  def create(tx=tx):
    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    state = nnx.state((model, optimizer))
    nnx.update(
      (model, optimizer), jax.lax.with_sharding_constraint(state, nnx.get_partition_spec(state))
    )
    return model, optimizer

  with jax.set_mesh(mesh):
    model, optimizer = create()
    specs = nnx.get_partition_spec(nnx.state(optimizer))
    kernels = [
      (jax.tree_util.keystr(path), leaf)
      for path, leaf in jax.tree_util.tree_leaves_with_path(
        nnx.state(optimizer, nnx.OptState), is_leaf=lambda x: isinstance(x, nnx.Variable)
      )
      if "kernel" in jax.tree_util.keystr(path)
    ]
    assert kernels, name
    expected = NamedSharding(mesh, P("fsdp", None))
    for path, variable in kernels:
      assert variable[...].sharding.is_equivalent_to(expected, 2), (name, path)
      assert variable.get_metadata()["out_sharding"] == ("fsdp", None), (name, path)

    @nnx.jit
    def train_step(model, optimizer, x):
      grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
      optimizer.update(model, grads)

    train_step(model, optimizer, jnp.ones((8, 16)))
    after = [
      leaf
      for path, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(optimizer, nnx.OptState))
      if "kernel" in jax.tree_util.keystr(path)
    ]
    assert all(leaf.sharding.is_equivalent_to(expected, 2) for leaf in after), name
print("ok")

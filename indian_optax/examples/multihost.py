"""The same FSDP training code on one host or many: only the launch differs.

On each of N hosts (or N processes of one machine, to try it out)::

    python -m indian_optax.examples.multihost \\
        --coordinator HOST0:1234 --num-processes N --process-id I

With no ``--coordinator`` it runs on the local devices alone (on a CPU, simulate
several with ``XLA_FLAGS=--xla_force_host_platform_device_count=8``). Clusters
that JAX detects (SLURM, Cloud TPU, Kubernetes with the right environment) need
no flags: ``jax.distributed.initialize()`` finds its peers by itself.

Nothing in the optimizer changes between one host and many: its state is built
from the params (``init`` maps over them), so it is sharded exactly like them,
and its update is elementwise, so each device updates its own shard with no
communication. What a user changes is the launch (``jax.distributed.initialize``)
and the mesh, which spans the devices of every host (``jax.devices()``); each
host feeds its own slice of the global batch.
"""

import argparse
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import indian_optax


def parse(argv: Optional[list[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--coordinator", help="HOST:PORT of process 0; omit for one host")
  parser.add_argument("--num-processes", type=int, default=1)
  parser.add_argument("--process-id", type=int, default=0)
  parser.add_argument("--optimizer", choices=("indian", "innaprop"), default="indian")
  parser.add_argument("--steps", type=int, default=20)
  return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> float:
  args = parse(argv)
  if args.coordinator:
    # CPU processes exchange data through gloo (GPUs and TPUs bring their own);
    # set before anything starts the backend.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)

  # One mesh over every device of every host: batch over "data", params over "fsdp".
  devices = jax.device_count()
  fsdp = 4 if devices % 4 == 0 else devices
  mesh = jax.make_mesh((devices // fsdp, fsdp), ("data", "fsdp"), axis_types=(AxisType.Auto,) * 2)
  specs = {"w1": P("fsdp", None), "b1": P("fsdp"), "w2": P("fsdp", None), "b2": P()}

  # Every process builds the same global params from the same seed; device_put keeps
  # only the shards its own devices hold.
  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  params = {
    "w1": 0.3 * jax.random.normal(keys[0], (16, 64)),
    "b1": jnp.zeros(64),
    "w2": 0.3 * jax.random.normal(keys[1], (64, 4)),
    "b2": jnp.zeros(4),
  }
  params = {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in params.items()}
  tx = (
    indian_optax.indian(0.1, alpha=0.5, beta=0.1)
    if args.optimizer == "indian"
    else indian_optax.innaprop(3e-3)
  )
  state = tx.init(params)  # sharded like params, on every host, with no extra code

  # Each host contributes its slice of the global batch.
  batch_sharding = NamedSharding(mesh, P(("data", "fsdp")))
  global_batch = 64 * devices
  rng = np.random.default_rng(0)
  x_all = rng.normal(size=(global_batch, 16)).astype(np.float32)
  y_all = (x_all[:, 0] > 0).astype(np.int32) + 2 * (x_all[:, 1] > 0).astype(np.int32)
  x = jax.make_array_from_callback(x_all.shape, batch_sharding, lambda index: x_all[index])
  y = jax.make_array_from_callback(y_all.shape, batch_sharding, lambda index: y_all[index])

  def loss_fn(params, x, y):
    hidden = jnp.tanh(x @ params["w1"] + params["b1"])
    logits = hidden @ params["w2"] + params["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  @jax.jit
  def train_step(params, state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss

  for step in range(args.steps):
    params, state, loss = train_step(params, state, x, y)
    if jax.process_index() == 0 and (step % 5 == 0 or step == args.steps - 1):
      where = f"{jax.process_count()} processes, {devices} devices"
      print(f"step {step:3d}  loss {float(loss):.5f}  ({where})")
  return float(loss)


if __name__ == "__main__":
  main()

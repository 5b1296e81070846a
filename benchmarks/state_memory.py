"""Per-device optimizer-state memory on 8 (simulated) devices: replicated params vs FSDP.

The state is built by ``init`` from the params, so it takes the params' layout:
replicated params give a full copy of the state on every device, FSDP-sharded
params one eighth of it. Bytes are read from the arrays' addressable shards.

    python benchmarks/state_memory.py            # updates RESULTS.md
    python benchmarks/state_memory.py --quick    # smoke test
"""

import os

os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import jax  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402
from step_cost import make_tree  # noqa: E402

import indian_optax  # noqa: E402

OPTIMIZERS = {
  "INDIAN": lambda: indian_optax.indian(0.1),
  "INNAprop": lambda: indian_optax.innaprop(1e-3),
  "SGD + momentum": lambda: optax.sgd(0.1, momentum=0.9),
  "AdamW": lambda: optax.adamw(1e-3),
}


def device0_bytes(tree) -> int:
  """Bytes of the tree that live on the first device."""
  first = jax.devices()[0]
  return sum(
    shard.data.nbytes
    for leaf in jax.tree.leaves(tree)
    for shard in leaf.addressable_shards
    if shard.device == first
  )


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  args = parser.parse_args(argv)
  assert jax.device_count() == 8, "run as a script: it sets up 8 simulated devices"
  elements = 100_000 if args.quick else 25_557_032  # ResNet-50's parameter count
  tree = make_tree("ResNet-50-like", elements, "float32")
  mesh = jax.make_mesh((8,), ("fsdp",), axis_types=(AxisType.Auto,))
  layouts = {
    "replicated": {k: NamedSharding(mesh, P()) for k in tree},
    "FSDP over 8": {
      k: NamedSharding(mesh, P("fsdp") if v.shape[0] % 8 == 0 else P()) for k, v in tree.items()
    },
  }
  rows = []
  for name, factory in OPTIMIZERS.items():
    tx = factory()
    per_device = {}
    for layout, shardings in layouts.items():
      params = {k: jax.device_put(v, shardings[k]) for k, v in tree.items()}
      state = tx.init(params)
      per_device[layout] = device0_bytes(state)
      del params, state
    abstract = jax.tree.leaves(jax.eval_shape(tx.init, tree))
    total = sum(leaf.size * leaf.dtype.itemsize for leaf in abstract if leaf.ndim)
    rows.append(
      [
        name,
        f"{total / 2**20:.1f}",
        f"{per_device['replicated'] / 2**20:.1f}",
        f"{per_device['FSDP over 8'] / 2**20:.1f}",
        f"{per_device['replicated'] / per_device['FSDP over 8']:.2f}x",
      ]
    )
    print(" | ".join(rows[-1]), flush=True)
  body = (
    f"A ResNet-50-like float32 tree of {elements:,} parameters in 161 leaves, 8 simulated CPU "
    "devices; MiB of optimizer state held by one device.\n\n"
    + _common.markdown_table(
      ["optimizer", "state MiB (total)", "per device, replicated", "per device, FSDP", "saving"],
      rows,
    )
  )
  if args.results or not args.quick:
    _common.write_section("state_memory", body, args.results or _common.RESULTS)
  print(body)


if __name__ == "__main__":
  main()

"""Cost of one optimizer step, INDIAN and INNAprop against their Optax peers, in one process.

One step is ``update`` + ``optax.apply_updates``, jitted with params and state
donated. For each param tree the six optimizers are timed in interleaved rounds;
the table gives medians, ratios to the peer, the achieved bandwidth (bytes an
ideal step must move / time) against a measured memcpy bandwidth, and the
state-sized copies in the compiled step.

    python benchmarks/step_cost.py            # full run, updates RESULTS.md
    python benchmarks/step_cost.py --quick    # smoke test (small trees, no RESULTS.md update)
"""

import argparse
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax import diagnostics  # noqa: E402

OPTIMIZERS = {
  "indian": (lambda: indian_optax.indian(0.01, 0.5, 0.1), 5),
  "momentum": (lambda: optax.sgd(0.01, momentum=0.9), 5),
  "nesterov": (lambda: optax.sgd(0.01, momentum=0.9, nesterov=True), 5),
  "adam": (lambda: optax.adam(1e-3), 7),
  "innaprop": (lambda: indian_optax.innaprop(1e-3), 7),
  "adamw": (lambda: optax.adamw(1e-3), 7),
}
"""name -> (factory, param-sized arrays an ideal fused step reads + writes)."""


def resnet50_leaf_sizes() -> list[int]:
  """ResNet-50's parameter sizes (convs, batch-norm scales and biases, classifier): 161 leaves."""
  sizes = [7 * 7 * 3 * 64, 64, 64]
  channels = 64
  for width, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True):
    for block in range(blocks):
      convs = [channels * width, 9 * width * width, width * 4 * width]
      if block == 0:
        convs.append(channels * 4 * width)
      for conv, out in zip(convs, [width, width, 4 * width, 4 * width], strict=False):
        sizes += [conv, out, out]
      channels = 4 * width
  return sizes + [2048 * 1000, 1000]


def make_tree(kind: str, elements: int, dtype) -> dict:
  if kind == "1 leaf":
    sizes = [elements]
  elif kind == "10 leaves":
    sizes = [elements // 10] * 10
  else:
    reference = resnet50_leaf_sizes()
    scale = elements / sum(reference)
    sizes = [max(1, round(size * scale)) for size in reference]
  return {f"p{i:03d}": jnp.full((size,), 0.5, dtype) for i, size in enumerate(sizes)}


def memcpy_bandwidth(nbytes: int) -> tuple[float, float]:
  """Bytes moved per second (read + write) copying an ``nbytes`` buffer: (NumPy, XLA).

  NumPy's ``copyto`` is one thread's memcpy; the XLA figure is a jitted, donated
  in-place scale (one read and one write per element) on all cores, the ceiling
  of any XLA loop. Percentages in the table are of the larger of the two.
  """
  source = np.ones(nbytes // 4, np.float32)
  target = np.empty_like(source)

  def numpy_copy():
    np.copyto(target, source)
    return target

  scale = jax.jit(lambda x: x * np.float32(1.0000001), donate_argnums=0)
  holder = [jnp.asarray(source)]

  def xla_copy():
    holder[0] = scale(holder[0])
    return holder[0]

  medians = _common.interleaved_medians({"numpy": numpy_copy, "xla": xla_copy}, repeats=9)
  return 2 * source.nbytes / medians["numpy"], 2 * source.nbytes / medians["xla"]


PAIRS = (("indian", "momentum"), ("indian", "nesterov"), ("indian", "adam"), ("innaprop", "adamw"))
"""Each ratio comes from its own A B A B ... session, so no third optimizer disturbs it."""


def time_step(tree: dict, repeats: int) -> dict[tuple[str, str], dict[str, float]]:
  """Median step seconds of each pair's two optimizers, timed interleaved."""
  grads = jax.tree.map(lambda p: (0.01 * p).astype(p.dtype), tree)
  steps = {}
  for name, (factory, _) in OPTIMIZERS.items():
    tx = factory()

    def step(params, state, grads, tx=tx):
      updates, state = tx.update(grads, state, params)
      return optax.apply_updates(params, updates), state

    steps[name] = (tx, jax.jit(step, donate_argnums=(0, 1)))

  def runner(name):
    tx, compiled = steps[name]
    params = jax.tree.map(jnp.copy, tree)
    holder = [params, tx.init(params)]

    def run():
      holder[0], holder[1] = compiled(holder[0], holder[1], grads)
      return holder[0]

    return run

  return {
    pair: _common.interleaved_medians({n: runner(n) for n in pair}, repeats) for pair in PAIRS
  }


def table_row(kind, size, dtype, timings, achieved, bandwidth, copies) -> list[str]:
  medians = {**timings[("indian", "momentum")], **timings[("innaprop", "adamw")]}

  def ms(name):
    return f"{1e3 * medians[name]:.3g}"

  def ratio(a, b):
    return f"{timings[(a, b)][a] / timings[(a, b)][b]:.2f}"

  def share(name):
    return f"{achieved[name] / 1e9:.1f} ({100 * achieved[name] / bandwidth:.0f}%)"

  return [
    kind,
    f"{size:.0e}".replace("e+0", "e"),
    jnp.dtype(dtype).name,
    ms("indian"),
    ms("momentum"),
    f"**{ratio('indian', 'momentum')}**",
    ratio("indian", "nesterov"),
    ratio("indian", "adam"),
    ms("innaprop"),
    ms("adamw"),
    f"**{ratio('innaprop', 'adamw')}**",
    share("indian"),
    share("innaprop"),
    f"{copies['indian']}, {copies['innaprop']}",
  ]


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small trees, few repeats")
  parser.add_argument("--results", type=pathlib.Path, help="RESULTS.md to update")
  args = parser.parse_args(argv)
  if args.quick:
    plan = [(kind, 10_000, jnp.float32) for kind in ("1 leaf", "10 leaves", "ResNet-50-like")]
    results = args.results
  else:
    plan = [
      (kind, n, dtype)
      for n in (10_000, 1_000_000, 10_000_000)
      for kind in ("1 leaf", "10 leaves", "ResNet-50-like")
      for dtype in (jnp.float32, jnp.bfloat16)
    ]
    plan += [(kind, 100_000_000, jnp.float32) for kind in ("1 leaf", "10 leaves")]
    results = args.results or _common.RESULTS
  numpy_bandwidth, xla_bandwidth = memcpy_bandwidth(4 * max(n for _, n, _ in plan))
  bandwidth = max(numpy_bandwidth, xla_bandwidth)
  rows = []
  for kind, elements, dtype in plan:
    tree = make_tree(kind, elements, dtype)
    size = sum(leaf.size for leaf in jax.tree.leaves(tree))
    itemsize = jnp.dtype(dtype).itemsize
    repeats = 5 if args.quick else max(30, min(300, int(3e9 / max(size, 1) / 5)))
    timings = time_step(tree, repeats)
    copies = {
      name: diagnostics.count_state_sized_copies(OPTIMIZERS[name][0](), tree)
      for name in ("indian", "innaprop")
    }
    seconds = {"indian": timings[("indian", "momentum")]["indian"]}
    seconds["innaprop"] = timings[("innaprop", "adamw")]["innaprop"]
    achieved = {name: OPTIMIZERS[name][1] * size * itemsize / seconds[name] for name in seconds}
    rows.append(table_row(kind, size, dtype, timings, achieved, bandwidth, copies))
    print(" | ".join(rows[-1]), flush=True)
  header = [
      "tree", "elements", "dtype", "INDIAN ms", "momentum ms", "INDIAN / momentum",
      "INDIAN / nesterov", "INDIAN / adam", "INNAprop ms", "AdamW ms", "INNAprop / AdamW",
      "INDIAN GB/s (% memcpy)", "INNAprop GB/s (% memcpy)", "state copies (INDIAN, INNAprop)",
  ]  # fmt: skip
  body = (
    f"Copy bandwidth (read + write) of a {4 * max(n for _, n, _ in plan) / 1e6:.0f} MB buffer: "
    f"NumPy memcpy {numpy_bandwidth / 1e9:.1f} GB/s, XLA in-place scale on all cores "
    f"{xla_bandwidth / 1e9:.1f} GB/s; % memcpy is of the larger. "
    "Each ratio: medians of its own interleaved A B A B rounds; GB/s counts the arrays "
    "an ideal fused step moves "
    "(INDIAN and momentum 5, Adam/AdamW/INNAprop 7).\n\n" + _common.markdown_table(header, rows)
  )
  if results is not None:
    _common.write_section("step_cost", body, results)
  else:
    print(body)
  if any(math.isnan(float(r[5].strip("*"))) for r in rows):
    raise SystemExit("a timing came out NaN")


if __name__ == "__main__":
  main()

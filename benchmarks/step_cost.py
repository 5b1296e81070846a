"""Cost of one optimizer step, INDIAN and INNAprop against their Optax peers, in one process.

One step is ``update`` + ``optax.apply_updates``, jitted with params and state
donated. For each param tree the six optimizers are timed in interleaved rounds,
twice: one jitted call per step (what a Python training loop pays, dispatch
included), and K steps inside one jitted ``lax.fori_loop`` (what a step costs inside
a jitted training loop), per step. The tables give medians, ratios to the peer, the
achieved bandwidth (bytes an ideal step must move / time) against the device's own
copy bandwidth, and the state-sized copies in the compiled step.

    python benchmarks/step_cost.py                       # CPU plan, updates RESULTS.md
    python benchmarks/step_cost.py --plan accelerator    # GPU/TPU plan: larger trees
    python benchmarks/step_cost.py --plan brief          # float32 trees of 1e6 and 1e7
    python benchmarks/step_cost.py --plan brief --region-analysis   # XLA:CPU's other copy pass
    python benchmarks/step_cost.py --passes              # each step's loops, from its HLO
    python benchmarks/step_cost.py --quick               # smoke test (small trees)

``--region-analysis`` sets ``XLA_FLAGS=--xla_cpu_copy_insertion_use_region_analysis=true``
before JAX starts (XLA:CPU then orders the params' and the state's loops instead of copying
the state) and writes its own section.
"""

import argparse
import math
import os
import pathlib
import sys

REGION_ANALYSIS = "--xla_cpu_copy_insertion_use_region_analysis=true"
if "--region-analysis" in sys.argv[1:]:  # XLA reads its flags once, when the backend starts
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {REGION_ANALYSIS}".strip()

import jax  # noqa: E402  (XLA_FLAGS first)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

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


def memcpy_bandwidth(nbytes: int, steps: int = 10) -> tuple[float, float]:
  """Bytes moved per second (read + write) copying an ``nbytes`` buffer: (NumPy, XLA).

  NumPy's ``copyto`` is one host thread's memcpy; the XLA figure is ``steps``
  in-place scales (one read and one write per element) inside one jitted, donated
  ``lax.fori_loop`` on the device, the ceiling of any XLA loop there, without the
  dispatch of a call. Percentages in the tables are of the larger of the two.
  """
  source = np.ones(nbytes // 4, np.float32)
  target = np.empty_like(source)

  def numpy_copy():
    np.copyto(target, source)
    return target

  scale = lambda _, x: x * np.float32(1.0000001)
  scales = jax.jit(lambda x: jax.lax.fori_loop(0, steps, scale, x), donate_argnums=0)
  holder = [jnp.asarray(source)]

  def xla_copy():
    holder[0] = scales(holder[0])
    return holder[0]

  medians = _common.interleaved_medians({"numpy": numpy_copy, "xla": xla_copy}, repeats=9)
  return 2 * source.nbytes / medians["numpy"], 2 * steps * source.nbytes / medians["xla"]


RESNET50 = sum(resnet50_leaf_sizes())  # 25,557,032

PLANS = {
  "quick": [(kind, 10_000, jnp.float32) for kind in ("1 leaf", "10 leaves", "ResNet-50-like")],
  "cpu": [
    (kind, n, dtype)
    for n in (10_000, 1_000_000, 10_000_000)
    for kind in ("1 leaf", "10 leaves", "ResNet-50-like")
    for dtype in (jnp.float32, jnp.bfloat16)
  ]
  + [(kind, 100_000_000, jnp.float32) for kind in ("1 leaf", "10 leaves")],
  "brief": [
    ("10 leaves", 1_000_000, jnp.float32),
    ("ResNet-50-like", 1_000_000, jnp.float32),
    ("10 leaves", 10_000_000, jnp.float32),
  ],
  "accelerator": [
    ("ResNet-50-like", RESNET50, jnp.float32),
    ("ResNet-50-like", RESNET50, jnp.bfloat16),
    ("1 leaf", 100_000_000, jnp.float32),
    ("10 leaves", 100_000_000, jnp.float32),
    ("10 leaves", 100_000_000, jnp.bfloat16),
    ("10 leaves", 1_000_000_000, jnp.float32),
    ("ResNet-50-like", 1_000_000_000, jnp.bfloat16),
  ],
}
"""(tree kind, elements, dtype) of each plan."""

PAIRS = (("indian", "momentum"), ("indian", "nesterov"), ("indian", "adam"), ("innaprop", "adamw"))
"""Each ratio comes from its own A B A B ... session, so no third optimizer disturbs it."""


def step_function(tx: optax.GradientTransformation, steps: int = 0):
  """Jitted ``(params, state, grads) -> (params, state)``, params and state donated.

  ``steps=0``: one step per call. ``steps=K``: K steps inside one ``lax.fori_loop``,
  each with the gradient scaled by ``1 + 1e-7 k`` so that no gradient-only work
  (Adam's g², say) can be hoisted out of the loop.
  """

  def step(params, state, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  if not steps:
    return jax.jit(step, donate_argnums=(0, 1))

  def loop(params, state, grads):
    def body(k, carry):
      scale = 1 + 1e-7 * k.astype(jnp.float32)
      return step(*carry, jax.tree.map(lambda g: (g * scale).astype(g.dtype), grads))

    return jax.lax.fori_loop(0, steps, body, (params, state))

  return jax.jit(loop, donate_argnums=(0, 1))


def time_step(tree: dict, repeats: int, steps: int = 0) -> dict[tuple[str, str], dict[str, float]]:
  """Median seconds per step of each pair's two optimizers, timed interleaved.

  ``steps`` as in :func:`step_function`: 0 times one call per step, K divides the
  time of one call running K steps by K.
  """
  grads = jax.tree.map(lambda p: (0.01 * p).astype(p.dtype), tree)

  def runner(name):
    tx = OPTIMIZERS[name][0]()
    compiled = step_function(tx, steps)
    params = jax.tree.map(jnp.copy, tree)
    holder = [params, tx.init(params)]

    def run():
      holder[0], holder[1] = compiled(holder[0], holder[1], grads)
      return holder[0]

    return run

  per_step = lambda medians: {name: t / max(steps, 1) for name, t in medians.items()}
  return {
    pair: per_step(_common.interleaved_medians({n: runner(n) for n in pair}, repeats))
    for pair in PAIRS
  }


def table_row(kind, size, dtype, timings, bandwidth, last) -> list[str]:
  """One row: medians, ratios to the peers, achieved GB/s (and % of ``bandwidth``), ``last``."""
  medians = {**timings[("indian", "momentum")], **timings[("innaprop", "adamw")]}
  itemsize = jnp.dtype(dtype).itemsize
  ms = lambda name: f"{1e3 * medians[name]:.3g}"
  ratio = lambda a, b: f"{timings[(a, b)][a] / timings[(a, b)][b]:.2f}"

  def share(name):
    achieved = OPTIMIZERS[name][1] * size * itemsize / medians[name]
    return f"{achieved / 1e9:.1f} ({100 * achieved / bandwidth:.0f}%)"

  return [
    kind, f"{size:.2g}".replace("e+0", "e"), jnp.dtype(dtype).name, ms("indian"),
    ms("momentum"), f"**{ratio('indian', 'momentum')}**", ratio("indian", "nesterov"),
    ratio("indian", "adam"), ms("innaprop"), ms("adamw"), f"**{ratio('innaprop', 'adamw')}**",
    share("indian"), share("innaprop"), last,
  ]  # fmt: skip


HEADER = [
  "tree", "elements", "dtype", "INDIAN ms", "momentum ms", "INDIAN / momentum",
  "INDIAN / nesterov", "INDIAN / adam", "INNAprop ms", "AdamW ms", "INNAprop / AdamW",
  "INDIAN GB/s (% copy)", "INNAprop GB/s (% copy)",
]  # fmt: skip


def measure(
  kind: str, elements: int, dtype, quick: bool, bandwidth: float, brief: bool = False
) -> tuple[list[str], list[str]]:
  """One tree's two table rows: one call per step, and K steps inside one jitted loop."""
  tree = make_tree(kind, elements, dtype)
  size = sum(leaf.size for leaf in jax.tree.leaves(tree))
  repeats = 5 if quick else max(30, min(300, int(3e9 / max(size, 1) / 5)))
  steps = 3 if quick else max(10, min(200, int(1e9 / max(size, 1))))
  if brief:
    repeats, steps = 31, 20
  per_call = time_step(tree, repeats)
  in_loop = time_step(tree, 5 if quick else max(15, repeats // 4), steps)
  copies = {
    name: diagnostics.count_state_sized_copies(OPTIMIZERS[name][0](), tree)
    for name in ("indian", "innaprop")
  }
  dispatch = lambda a, b: f"{per_call[(a, b)][a] / in_loop[(a, b)][a]:.2f}"
  dispatches = f"{steps}: {dispatch('indian', 'momentum')}, {dispatch('innaprop', 'adamw')}"
  return (
    table_row(kind, size, dtype, per_call, bandwidth, f"{copies['indian']}, {copies['innaprop']}"),
    table_row(kind, size, dtype, in_loop, bandwidth, dispatches),
  )


PASSES = {
  **{name: make for name, (make, _) in OPTIMIZERS.items()},
  "innaprop, weight_decay=None": lambda: indian_optax.innaprop(1e-3, weight_decay=None),
}
"""The steps whose compiled HLO ``--passes`` reads (INNAprop without decay: no θ read by φ)."""


def passes_section() -> str:
  """What the compiler made of each step on one float32 leaf: its loops and their traffic."""
  rows, size = [], 1_000_003
  for name, make in PASSES.items():
    loops = diagnostics.memory_passes(make(), size)
    shown = "; ".join(f"{loop.opcode} {loop.reads} -> {loop.writes}" for loop in loops)
    copies = sum(loop.opcode == "copy" for loop in loops)
    rows.append([name, shown, str(copies), str(sum(loop.reads + loop.writes for loop in loops))])
  return (
    f"The compiled donated step (update + `optax.apply_updates`) on one float32 leaf of "
    f"{size:,} elements, read from its optimized HLO by `indian_optax.diagnostics."
    "memory_passes`: each instruction that moves param-sized arrays, as opcode reads -> "
    "writes (an XLA:CPU loop fusion writes one array; a `copy` reads one and writes one), "
    "and the total passes over param-sized memory.\n\n"
    + _common.markdown_table(["step", "loops: reads -> writes", "copies", "passes"], rows)
  )


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small trees, few repeats")
  parser.add_argument(
    "--plan", choices=("cpu", "brief", "accelerator"), default="cpu",
    help="which trees (default cpu; brief: float32 trees of 1e6 and 1e7, 31 rounds)",
  )  # fmt: skip
  parser.add_argument(
    "--region-analysis", action="store_true",
    help=f"run with XLA_FLAGS={REGION_ANALYSIS} (its own section)",
  )  # fmt: skip
  parser.add_argument(
    "--passes", action="store_true", help="no timing: each step's loops from its compiled HLO"
  )
  parser.add_argument("--results", type=pathlib.Path, help="RESULTS.md to update")
  args = parser.parse_args(argv)
  plan = PLANS["quick" if args.quick else args.plan]
  results = args.results if args.quick else (args.results or _common.RESULTS)
  suffix = "_region_analysis" if args.region_analysis else ""
  if args.passes:
    body = passes_section()
    print(body)
    if results is not None:
      _common.write_section("step_cost_passes" + suffix, body, results)
    return
  copy_bytes = 4 * max(n for _, n, _ in plan)
  numpy_bandwidth, xla_bandwidth = memcpy_bandwidth(copy_bytes)
  bandwidth = max(numpy_bandwidth, xla_bandwidth)
  calls, loops = [], []
  for kind, elements, dtype in plan:
    call, loop = measure(kind, elements, dtype, args.quick, bandwidth, args.plan == "brief")
    calls.append(call)
    loops.append(loop)
    print(" | ".join(calls[-1]), "\n", " | ".join(loops[-1]), flush=True)
  body = (
    f"Copy bandwidth (read + write) of a {copy_bytes / 1e6:.0f} MB buffer: host NumPy memcpy "
    f"{numpy_bandwidth / 1e9:.1f} GB/s, XLA in-place scale on the device (10 in one jitted loop) "
    f"{xla_bandwidth / 1e9:.1f} GB/s; % copy is of the larger. Each ratio: medians of its own "
    "interleaved A B A B rounds; GB/s counts the arrays an ideal fused step moves (INDIAN "
    "and momentum 5, Adam/AdamW/INNAprop 7).\n\n"
    "**One jitted call per step** (a Python training loop: dispatch included):\n\n"
    + _common.markdown_table(HEADER + ["state copies (INDIAN, INNAprop)"], calls)
    + "\n\n**Inside a jitted training loop**: K steps in one `lax.fori_loop` per call, time "
    "per step; the last column gives K and how much more a step costs when called one at a "
    "time (per-call / in-loop, INDIAN and INNAprop):\n\n"
    + _common.markdown_table(HEADER + ["K: per call / in loop (INDIAN, INNAprop)"], loops)
  )
  section = {"cpu": "step_cost", "brief": "step_cost_brief"}.get(args.plan, "step_cost_accelerator")
  section += suffix
  if results is not None:
    _common.write_section(section, body, results)
  else:
    print(body)
  if any(math.isnan(float(r[5].strip("*"))) for r in calls + loops):
    raise SystemExit("a timing came out NaN")


if __name__ == "__main__":
  main()

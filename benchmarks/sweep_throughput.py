"""Configurations per second of an alpha x beta INDIAN sweep: one vmapped program vs a loop.

Both sides run the same jitted training function (a Flax NNX MLP on digits, all
epochs in one ``lax.scan``); the loop calls it once per configuration, the sweep
calls its ``vmap`` once. Compilation is excluded from the timings and reported
on its own. The CPU plan runs 16 configurations at four MLP widths; the accelerator
plan runs the 64-128-128-10 MLP at 16 to 4096 configurations, against a loop timed
on 16 of them.

    python benchmarks/sweep_throughput.py                       # CPU plan, updates RESULTS.md
    python benchmarks/sweep_throughput.py --plan accelerator    # 16 to 4096 configurations
    python benchmarks/sweep_throughput.py --quick               # smoke test
"""

import argparse
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax import app  # noqa: E402
from indian_optax.app import data, models  # noqa: E402

ALPHAS = (0.1, 0.5, 1.0, 2.0)
BETAS = (0.01, 0.1, 0.5, 1.0)
CONFIGURATIONS = (16, 64, 256, 1024, 4096)
"""The accelerator plan's sweep sizes: square alpha x beta grids."""


def grid(configurations: int) -> tuple[jax.Array, jax.Array]:
  """(alphas, betas) of an alpha x beta grid: ``ALPHAS`` x ``BETAS`` for 16, else log-spaced."""
  if configurations == len(ALPHAS) * len(BETAS):
    alphas, betas = ALPHAS, BETAS
  else:
    side = math.isqrt(configurations)
    alphas, betas = np.geomspace(0.1, 2.0, side), np.geomspace(0.01, 1.0, side)
  pairs = [(a, b) for a in alphas for b in betas]
  return tuple(jnp.asarray(v, jnp.float32) for v in zip(*pairs, strict=True))


def training_function(
  epochs: int, batch_size: int, limit: int, hidden: int = 128, dataset: str = "digits",
  model_name: str = "mlp",
):  # fmt: skip
  digits = data.load(dataset)
  model = models.make_model(model_name, digits.sample_shape, digits.num_classes, hidden=hidden)
  x, y = jnp.asarray(digits.x_train[:limit]), jnp.asarray(digits.y_train[:limit])
  batches = len(y) // batch_size
  order = jax.random.permutation(jax.random.PRNGKey(0), len(y))[: batches * batch_size]
  order = order.reshape(batches, batch_size)
  params0 = model.init(jax.random.PRNGKey(1))

  def loss_fn(params, indices):
    logits = model.apply(params, x[indices])
    return optax.softmax_cross_entropy_with_integer_labels(logits, y[indices]).mean()

  def train(alpha, beta):
    tx = indian_optax.indian(0.1, alpha, beta)

    def step(carry, indices):
      params, state = carry
      loss, grads = jax.value_and_grad(loss_fn)(params, indices)
      updates, state = tx.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), loss

    def epoch(carry, _):
      carry, losses = jax.lax.scan(step, carry, order)
      return carry, losses.mean()

    _, losses = jax.lax.scan(epoch, (params0, tx.init(params0)), None, length=epochs)
    return losses[-1]

  return train


def measure(
  epochs: int, limit: int, hidden: int, repeats: int, dataset: str = "digits", model: str = "mlp"
) -> dict[str, float]:
  train = training_function(epochs, 64, limit, hidden, dataset, model)
  alphas, betas = grid(len(ALPHAS) * len(BETAS))
  vmapped = jax.jit(jax.vmap(train))
  single = jax.jit(train)
  start = time.perf_counter()
  swept = jax.block_until_ready(vmapped(alphas, betas))
  compile_vmapped = time.perf_counter() - start
  start = time.perf_counter()
  jax.block_until_ready(single(alphas[0], betas[0]))
  compile_single = time.perf_counter() - start
  loop = lambda: [single(a, b) for a, b in zip(alphas, betas, strict=True)]
  medians = _common.interleaved_medians(
    {"vmapped": lambda: vmapped(alphas, betas), "loop": loop}, repeats, warmup=1
  )
  return dict(
    medians,
    compile_vmapped=compile_vmapped,
    compile_single=compile_single,
    agreement=float(jnp.max(jnp.abs(swept - jnp.stack(loop())))),
  )


def accelerator_plan(epochs: int, limit: int, repeats: int, widths=CONFIGURATIONS) -> str:
  """The 64-128-128-10 MLP swept at each of ``widths`` configurations, against a loop of 16."""
  loop = measure(epochs, limit, 128, repeats)
  per_config = loop["loop"] / (len(ALPHAS) * len(BETAS))
  train = training_function(epochs, 64, limit, 128)
  model = models.make_model("mlp", (8, 8, 1), 10, hidden=128)
  rows = []
  for configurations in widths:
    alphas, betas = grid(configurations)
    vmapped = jax.jit(jax.vmap(train))
    start = time.perf_counter()
    jax.block_until_ready(vmapped(alphas, betas))
    compile_seconds = time.perf_counter() - start
    run = lambda vmapped=vmapped, alphas=alphas, betas=betas: vmapped(alphas, betas)
    seconds = _common.interleaved_medians({"vmapped": run}, repeats, warmup=1)["vmapped"]
    chunk = app.auto_chunk_size(model.init, 64, configurations)
    rows.append(
      [str(configurations), f"{seconds:.3f}", f"{configurations / seconds:.0f}",
       f"**{per_config * configurations / seconds:.3g}x**", f"{compile_seconds:.1f}", str(chunk)]
    )  # fmt: skip
    print(" | ".join(rows[-1]), flush=True)
  header = ["configurations", "vmapped s", "configurations/s", "vs the loop",
            "first call (compile) s", "auto chunk_size"]  # fmt: skip
  return (
    f"INDIAN (lr 0.1) training the NNX MLP 64-128-128-10 on digits, {epochs} epochs of batch "
    f"64 inside one jitted function, alpha x beta grids of each size (16: alpha {list(ALPHAS)} x "
    f"beta {list(BETAS)}; larger: alpha 0.1 to 2 x beta 0.01 to 1, log-spaced). "
    f"A loop of single jitted runs: {1 / per_config:.0f} configurations/s "
    f"({1e3 * per_config:.1f} ms each, measured on 16; max final-loss difference from the "
    f"vmapped 16: {loop['agreement']:.1e}). Medians of {repeats} calls, compilation excluded "
    "and reported on its own. 'auto chunk_size' is what `indian_optax.app.sweep("
    'chunk_size="auto")` picks on this backend (configurations per program).\n\n'
    + _common.markdown_table(header, rows)
  )


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument(
    "--plan", choices=("cpu", "accelerator"), default="cpu", help="which sweeps (default cpu)"
  )
  parser.add_argument("--results", type=pathlib.Path)
  args = parser.parse_args(argv)
  epochs, limit, repeats = (1, 256, 2) if args.quick else (5, 10_000, 15)
  if args.plan == "accelerator":
    widths = (16, 64) if args.quick else CONFIGURATIONS
    body = accelerator_plan(epochs, limit, repeats, widths)
    if args.results or not args.quick:
      _common.write_section("sweep_throughput_accelerator", body, args.results or _common.RESULTS)
    print(body)
    return
  # (label, data set, model, MLP width): the four MLP widths on digits, then every model
  # the command trains by default (digits MLP, MNIST-1D MLP and CNN, digits CNN).
  # The CNNs' vmapped program takes tens of seconds a call here: fewer rounds settle them.
  cnn_repeats = min(repeats, 3)
  cases = [(f"digits MLP 64-{h}-{h}-10", "digits", "mlp", h, repeats) for h in (16, 32, 64, 128)]
  cases += [
    ("MNIST-1D MLP 40-128-128-10", "mnist1d", "mlp", 128, repeats),
    ("MNIST-1D CNN", "mnist1d", "cnn", 128, cnn_repeats),
    ("digits CNN", "digits", "cnn", 128, cnn_repeats),
  ]
  cases = cases[:1] if args.quick else cases
  configs = len(ALPHAS) * len(BETAS)
  rows = []
  for label, dataset_name, model_name, hidden, rounds in cases:
    m = measure(epochs, limit, hidden, rounds, dataset_name, model_name)
    shape = data.load(dataset_name).sample_shape
    model = models.make_model(model_name, shape, 10, hidden=hidden)
    sample = jax.ShapeDtypeStruct(shape, jnp.float32)
    width = app.auto_chunk_size(model.init, 64, configs, None, model.apply, sample)
    together = width > 1
    auto = m["vmapped"] if together else m["loop"]
    params = sum(x.size for x in jax.tree.leaves(jax.eval_shape(model.init, jax.random.PRNGKey(0))))
    rows.append(
      [
        f"{label} ({params:,} params)",
        f"{m['vmapped']:.3f}",
        f"{m['loop']:.3f}",
        f"{configs / m['vmapped']:.0f}",
        f"{configs / m['loop']:.0f}",
        f"**{m['loop'] / m['vmapped']:.2f}x**",
        f"{m['compile_vmapped']:.1f} / {m['compile_single']:.1f}",
        f"{m['agreement']:.1e}",
        f"{'vmapped' if together else 'loop'}: {configs / auto:.0f} configs/s",
        f"**{min(m['vmapped'], m['loop']) / auto:.2f}**",
        f"{m['loop'] / auto:.2f}x",
      ]
    )
    print(" | ".join(rows[-1]), flush=True)
  header = [
      "model", "vmapped s", "loop s", "vmapped configs/s", "loop configs/s", "speed-up",
      "compile s (vmapped / single)", "max final-loss difference",
      "auto (chunk_size)", "auto / the better", "auto vs loop",
  ]  # fmt: skip
  body = (
    f"{configs} configurations (alpha in {list(ALPHAS)}, beta in {list(BETAS)}) of INDIAN "
    f"(lr 0.1) training each model, {epochs} epochs of batch 64 inside one jitted "
    f"function; the loop calls it once per configuration, the sweep calls its vmap once. "
    f"Medians of {repeats} interleaved rounds ({min(repeats, 3)} for the CNNs), compilation "
    "excluded. 'auto' is what "
    '`indian_optax.app.sweep(chunk_size="auto")` runs on this backend for this model (16 '
    "configurations in one vmapped program, or one per program, i.e. the loop), so its "
    "throughput is that program's; 'auto / the better' is its speed against the faster of "
    "the two (1.00 = the better choice).\n\n" + _common.markdown_table(header, rows)
  )
  if args.results or not args.quick:
    _common.write_section("sweep_throughput", body, args.results or _common.RESULTS)
  print(body)


if __name__ == "__main__":
  main()

"""Configurations per second of a 16-point alpha x beta INDIAN sweep: one vmapped program vs a loop.

Both sides run the same jitted training function (a Flax NNX MLP on digits, all
epochs in one ``lax.scan``); the loop calls it once per configuration, the sweep
calls its ``vmap`` once. Compilation is excluded from the timings and reported
on its own.

    python benchmarks/sweep_throughput.py            # updates RESULTS.md
    python benchmarks/sweep_throughput.py --quick    # smoke test
"""

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax import app  # noqa: E402
from indian_optax.app import data, models  # noqa: E402

ALPHAS = (0.1, 0.5, 1.0, 2.0)
BETAS = (0.01, 0.1, 0.5, 1.0)


def training_function(epochs: int, batch_size: int, limit: int, hidden: int = 128):
  digits = data.load("digits")
  model = models.make_model("mlp", digits.sample_shape, digits.num_classes, hidden=hidden)
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


def measure(epochs: int, limit: int, hidden: int, repeats: int) -> dict[str, float]:
  train = training_function(epochs, 64, limit, hidden)
  pairs = [(a, b) for a in ALPHAS for b in BETAS]
  alphas, betas = (jnp.asarray(v) for v in zip(*pairs, strict=True))
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


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  args = parser.parse_args(argv)
  epochs, limit, repeats = (1, 256, 2) if args.quick else (5, 10_000, 5)
  widths = (16,) if args.quick else (16, 32, 64, 128)
  configs = len(ALPHAS) * len(BETAS)
  rows = []
  for hidden in widths:
    m = measure(epochs, limit, hidden, repeats)
    model = models.make_model("mlp", (8, 8, 1), 10, hidden=hidden)
    together = app.auto_chunk_size(model.init, 64, configs) == configs
    auto = m["vmapped"] if together else m["loop"]
    rows.append(
      [
        f"64-{hidden}-{hidden}-10",
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
      "MLP", "vmapped s", "loop s", "vmapped configs/s", "loop configs/s", "speed-up",
      "compile s (vmapped / single)", "max final-loss difference",
      "auto (chunk_size)", "auto / the better", "auto vs loop",
  ]  # fmt: skip
  body = (
    f"{configs} configurations (alpha in {list(ALPHAS)}, beta in {list(BETAS)}) of INDIAN "
    f"(lr 0.1) training an NNX MLP on digits, {epochs} epochs of batch 64 inside one jitted "
    f"function; the loop calls it once per configuration, the sweep calls its vmap once. "
    f"Medians of {repeats} interleaved rounds, compilation excluded. 'auto' is what "
    '`indian_optax.app.sweep(chunk_size="auto")` runs on this backend for this model (all '
    "configurations in one vmapped program, or one per program, i.e. the loop), so its "
    "throughput is that program's; 'auto / the better' is its speed against the faster of "
    "the two (1.00 = the better choice).\n\n" + _common.markdown_table(header, rows)
  )
  if args.results or not args.quick:
    _common.write_section("sweep_throughput", body, args.results or _common.RESULTS)
  print(body)


if __name__ == "__main__":
  main()

"""INNAprop on a causal character-level transformer (Flax NNX), against AdamW and INDIAN.

The corpus is the Python standard library's own source, read from the running
interpreter's installation (never downloaded): ``CORPUS`` lists the files, split by
file into training, validation and test text, so no validation window shares a file
with training. Their content differs a little between Python versions; the section
records the version and the sizes. Text is read as bytes (a 256-symbol vocabulary)
and cut into non-overlapping windows of ``context + 1`` bytes (inputs and next-byte
targets).

Protocol: each method's peak learning rate is tuned by the final validation loss (seed
0, one half-decade grid for every method, 0.001 to 1, widened until the chosen rate is
interior), then 10 other seeds (1 to 10: the tuning seed is never an evaluation seed)
at the chosen rate. Compared by the paired rule of ``_common.paired`` on the final test
loss: INNAprop - AdamW, INDIAN - momentum (each with its counterpart) and INDIAN - the
better of AdamW and momentum (by mean validation loss), each with the smallest
difference it resolves and the generalisation gap (test loss - training loss).
Every method uses the same schedule: linear warm-up over the first 5 % of the steps,
cosine decay to 10 % of the peak. INNAprop at its authors' (alpha, beta) = (0.1, 0.9)
and (2, 2), sigma 0.99 (their GPT-2 setting), weight decay 0.01; AdamW with b2 = 0.99 and
the same weight decay; SGD with heavy-ball momentum 0.9 and INDIAN at its default
(0.5, 0.1), neither with decay. All runs are the
sweep engine's (``indian_optax.app.sweep``): batches drawn the same way
for every method, validation and test loss after each epoch.

    python benchmarks/language_model.py                 # CPU size, updates RESULTS.md
    python benchmarks/language_model.py --size large    # for an accelerator (~500x the work)
    python benchmarks/language_model.py --quick         # smoke test
"""

import argparse
import dataclasses
import pathlib
import platform
import sys
import sysconfig
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax.app import SweepResult, plots, sweep  # noqa: E402

CORPUS = {
  "train": (
    "bisect", "calendar", "contextlib", "copy", "csv", "fnmatch", "fractions", "gettext",
    "glob", "heapq", "numbers", "operator", "pprint", "queue", "random", "sched", "shlex",
    "string", "textwrap", "tokenize",
  ),
  "validation": ("base64", "colorsys", "filecmp", "graphlib", "keyword", "netrc", "quopri",
                 "zipapp"),
  "test": ("selectors", "wave", "webbrowser"),
  # More training text for --size large.
  "train_large": (
    "argparse", "ast", "codecs", "configparser", "dataclasses", "difflib", "enum", "functools",
    "inspect", "locale", "mailbox", "optparse", "pickle", "plistlib", "shutil", "smtplib",
    "socketserver", "statistics", "subprocess", "tarfile", "tempfile", "threading", "trace",
    "traceback", "typing", "uuid",
  ),
}  # fmt: skip
"""Standard-library modules (``<name>.py``), present in every CPython from 3.9 to 3.14."""


@dataclasses.dataclass(frozen=True)
class Size:
  """The model and the training run."""

  context: int
  width: int
  depth: int
  heads: int
  batch_size: int
  epochs: int
  large_corpus: bool = False


SIZES = {
  "quick": Size(context=16, width=16, depth=1, heads=2, batch_size=16, epochs=1),
  "cpu": Size(context=64, width=64, depth=2, heads=4, batch_size=32, epochs=4),
  "large": Size(
    context=256, width=256, depth=4, heads=8, batch_size=64, epochs=10, large_corpus=True
  ),
}


@dataclasses.dataclass(frozen=True)
class Method:
  label: str
  build: object  # (learning_rate schedule) -> GradientTransformation
  learning_rates: tuple[float, ...]


WEIGHT_DECAY = 0.01
LEARNING_RATES = tuple(_common.half_decades(-6, 0))  # 0.001 to 1, the same start for every method
METHODS = (
  Method("AdamW", lambda lr: optax.adamw(lr, b2=0.99, weight_decay=WEIGHT_DECAY), LEARNING_RATES),
  Method("momentum", lambda lr: optax.sgd(lr, momentum=0.9), LEARNING_RATES),
  *(
    Method(f"INNAprop ({a:g}, {b:g})",
           lambda lr, a=a, b=b: indian_optax.innaprop(lr, a, b, sigma=0.99,
                                                      weight_decay=WEIGHT_DECAY),
           LEARNING_RATES)
    for a, b in ((0.1, 0.9), (2.0, 2.0))
  ),
  Method("INDIAN (0.5, 0.1)", lambda lr: indian_optax.indian(lr, 0.5, 0.1), LEARNING_RATES),
)  # fmt: skip


def corpus_windows(files: tuple[str, ...], context: int) -> tuple[np.ndarray, np.ndarray]:
  """Inputs and next-byte targets ``[windows, context]``: non-overlapping windows of each file."""
  folder = pathlib.Path(sysconfig.get_paths()["stdlib"])
  xs, ys = [], []
  for name in files:
    path = folder / f"{name}.py"
    if not path.exists():
      raise SystemExit(f"language_model.py: {path} is missing: this Python has no source files")
    text = np.frombuffer(path.read_bytes(), dtype=np.uint8).astype(np.int32)
    windows = len(text) // (context + 1)
    blocks = text[: windows * (context + 1)].reshape(windows, context + 1)
    xs.append(blocks[:, :-1])
    ys.append(blocks[:, 1:])
  return np.concatenate(xs), np.concatenate(ys)


class Block(nnx.Module):
  """Pre-norm causal self-attention and MLP, each with a residual connection."""

  def __init__(self, width: int, heads: int, *, rngs: nnx.Rngs):
    self.attention_norm = nnx.LayerNorm(width, rngs=rngs)
    self.attention = nnx.MultiHeadAttention(
      num_heads=heads, in_features=width, decode=False, rngs=rngs
    )
    self.mlp_norm = nnx.LayerNorm(width, rngs=rngs)
    self.hidden = nnx.Linear(width, 4 * width, rngs=rngs)
    self.output = nnx.Linear(4 * width, width, rngs=rngs)

  def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
    x = x + self.attention(self.attention_norm(x), mask=mask)
    return x + self.output(jax.nn.gelu(self.hidden(self.mlp_norm(x))))


class CharTransformer(nnx.Module):
  """Byte embeddings plus learned positions, ``depth`` blocks, a final norm, next-byte logits."""

  def __init__(self, size: Size, *, rngs: nnx.Rngs):
    self.embed = nnx.Embed(256, size.width, rngs=rngs)
    self.position = nnx.Embed(size.context, size.width, rngs=rngs)
    self.blocks = nnx.List([Block(size.width, size.heads, rngs=rngs) for _ in range(size.depth)])
    self.norm = nnx.LayerNorm(size.width, rngs=rngs)
    self.logits = nnx.Linear(size.width, 256, rngs=rngs)

  def __call__(self, tokens: jax.Array) -> jax.Array:
    length = tokens.shape[-1]
    x = self.embed(tokens) + self.position(jnp.arange(length))
    mask = nnx.make_causal_mask(tokens)
    for block in self.blocks:
      x = block(x, mask)
    return self.logits(self.norm(x))


def functional_model(size: Size):
  """``init(key) -> params`` and ``apply(params, tokens) -> logits`` for the sweep engine."""
  graphdef, _ = nnx.split(nnx.eval_shape(lambda: CharTransformer(size, rngs=nnx.Rngs(0))))
  init = lambda key: nnx.split(CharTransformer(size, rngs=nnx.Rngs(params=key)))[1]
  apply = lambda params, tokens: nnx.merge(graphdef, params)(tokens)
  return init, apply


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="smoke test: a tiny model, 2 methods")
  parser.add_argument("--results", type=pathlib.Path, help="RESULTS.md to update")
  parser.add_argument(
    "--size",
    choices=("cpu", "large"),
    default="cpu",
    help="cpu (minutes on 2 cores, the default) or large (for an accelerator)",
  )
  parser.add_argument(
    "--seeds",
    type=int,
    default=10,
    help="evaluation seeds (1, 2, ...) at each chosen rate (default 10)",
  )
  args = parser.parse_args(argv)
  if args.seeds < 1:
    parser.error("--seeds must be at least 1")
  size_name = "quick" if args.quick else args.size
  methods = (METHODS[0], METHODS[2]) if args.quick else METHODS
  seeds = tuple(range(1, 1 + (2 if args.quick else args.seeds)))  # seed 0 tunes
  results = args.results or _common.RESULTS
  figures = results.parent / "figures"  # next to the RESULTS.md written, never the real ones
  figures.mkdir(parents=True, exist_ok=True)
  body, rows = run(size_name, methods, seeds, figures, widen=0 if args.quick else 4)
  if args.results or not args.quick:
    _common.write_section(f"language_model_{args.size}", body, results, seeds=rows)
  print(body, flush=True)


def run(size_name: str, methods, seeds, figures: pathlib.Path, *, widen: int) -> tuple[str, list]:
  """Tunes each method's learning rate, runs its seeds, draws and tabulates.

  Returns:
    The section, and its per-seed rows.
  """
  size, quick = SIZES[size_name], size_name == "quick"
  files = {k: v[:1] if quick else v for k, v in CORPUS.items()}
  train_files = files["train"] + (files["train_large"] if size.large_corpus else ())
  x_train, y_train = corpus_windows(train_files, size.context)
  validation = corpus_windows(files["validation"], size.context)
  test = corpus_windows(files["test"], size.context)
  init, apply = functional_model(size)
  steps = size.epochs * (len(x_train) // size.batch_size)
  inputs = dict(
    init_params=init, apply_fn=apply, data=(x_train, y_train, *test), validation=validation,
    epochs=size.epochs, batch_size=size.batch_size, select="val_loss",
  )  # fmt: skip
  start = time.perf_counter()
  tuning_rows, chosen_runs = [], []
  for method in methods:
    make = lambda learning_rate, method=method: method.build(_schedule(learning_rate, steps))
    run_rates = lambda rates, make=make, label=method.label: sweep(
      make, {"learning_rate": rates}, **inputs, seeds=(0,), name=label
    )
    rates = method.learning_rates[1:4] if quick else method.learning_rates
    tuned, edge = _common.tune_learning_rate(run_rates, rates, widen=widen)
    rate = tuned.ranked_settings()[0].hyperparameters["learning_rate"]
    tuning_rows.append([method.label, f"{rate:g}", _loss(tuned.ranked_settings()[0]), edge])
    print(tuning_rows[-1], flush=True)
    chosen_runs.append(
      sweep(make, {"learning_rate": [rate]}, **inputs, seeds=seeds, name=method.label)
    )
  result = SweepResult.concatenate(chosen_runs)
  minutes = (time.perf_counter() - start) / 60
  figure = f"language_model_{size_name}.png"
  plots.curves(
    result, result.settings(), figures / figure, panels=("train_loss", "val_loss"), bands=True,
    title=f"char-level transformer on stdlib source: mean and range of {len(seeds)} seeds",
  )  # fmt: skip
  rows = _common.seed_rows(result.settings(), with_gap=True)
  section = _section(
    result, tuning_rows, size, steps, figure, minutes, len(x_train), validation, test
  )
  return section, rows


def _schedule(peak: jax.Array, steps: int) -> optax.Schedule:
  """Warm-up then cosine decay, scaled by a (traced) peak: Optax's schedule wants a number."""
  shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, max(1, steps // 20), steps, end_value=0.1)
  return lambda count: peak * shape(count)


def _loss(setting) -> str:
  return f"{setting.mean['final_val_loss']:.4f}"


def _section(result, tuning_rows, size, steps, figure, minutes, windows, validation, test) -> str:
  rows = []
  for setting in result.settings():
    mean_std = lambda m, s=setting: _common.mean_sd(s.per_seed[m])
    rows.append(
      [setting.hyperparameters["optimizer"], f"{setting.hyperparameters['learning_rate']:g}",
       mean_std("final_val_loss"), mean_std("final_test_loss"),
       mean_std("final_train_loss"), _common.mean_sd(_common.gap(setting)),
       mean_std("final_test_accuracy"), str(setting.diverged)]
    )  # fmt: skip
  interior = all(row[-1].startswith("interior") for row in tuning_rows)
  seeds = result.settings()[0].seeds
  by_name = {s.hyperparameters["optimizer"]: s for s in result.settings()}
  verdicts = [
    _common.comparison_row(by_name[a], by_name[b], "final_test_loss", f"{a} - {b}")
    for a, b in comparisons(result)
  ]
  init, _ = functional_model(size)
  params = sum(p.size for p in jax.tree.leaves(jax.eval_shape(init, jax.random.PRNGKey(0))))
  return (
    f"**Character-level transformer** (`figures/{figure}`): {size.depth} blocks, width "
    f"{size.width}, {size.heads} heads, context {size.context}, {params:,} params; batch "
    f"{size.batch_size}, {size.epochs} epochs = {steps} steps over {windows} training windows "
    f"({windows * (size.context + 1):,} bytes of Python {platform.python_version()}'s stdlib "
    f"source); validation {len(validation[0])} windows, test {len(test[0])} windows, from other "
    f"files. Peak learning rate of each method tuned by the final validation loss (seed 0) on "
    f"one grid for all ({LEARNING_RATES[0]:g} to {LEARNING_RATES[-1]:g}, widened by one rule), "
    f"then seeds {list(seeds)}. Decoupled weight decay {WEIGHT_DECAY:g} for AdamW and "
    f"INNAprop alike, none for momentum and INDIAN. The better peer is the one of AdamW and "
    "momentum with the lower mean validation loss. Gap: final test loss - final training "
    "loss (whole training text) of the same run, the generalisation gap. Losses and "
    f"accuracies: {_common.SD_LABEL}. Chosen "
    "learning rates: "
    f"{'every one interior to its grid' if interior else 'NOT all interior (see the table)'}. "
    f"Whole run: {minutes:.1f} min.\n\n"
    + _common.markdown_table(["method", "peak lr", "val loss (seed 0)", "grid"], tuning_rows)
    + "\n\n"
    + _common.markdown_table(
      [
        "method",
        "peak lr",
        "final val loss",
        "final test loss",
        "final train loss",
        "gap: test loss - train loss",
        "test next-byte accuracy",
        "diverged runs",
      ],
      rows,
    )  # fmt: skip
    + f"\n\n{_common.rule(len(seeds))} A win is a lower test loss (or gap). "
    f"{_common.RESOLUTION_LABEL}\n\n"
    + _common.markdown_table(
      [
        "comparison",
        "final test loss difference",
        "resolves (80 % power)",
        "gap difference (lower is better)",
      ],
      verdicts,
    )  # fmt: skip
    + f"\n\n{_common.chance(2 * len(verdicts))}"
  )


def comparisons(result: SweepResult) -> list[tuple[str, str]]:
  """The distinct (a, b) pairs: INNAprop - AdamW, INDIAN - momentum, INDIAN - the better peer."""
  settings = {s.hyperparameters["optimizer"]: s for s in result.settings()}
  peers = [n for n in ("AdamW", "momentum") if n in settings]
  best = min(peers, key=lambda n: np.nan_to_num(settings[n].mean["final_val_loss"], nan=np.inf))
  indian = [n for n in settings if n.startswith("INDIAN")]
  pairs = [(n, "AdamW") for n in settings if n.startswith("INNAprop")]
  pairs += [(n, p) for n in indian for p in ("momentum", best)]
  return [p for p in dict.fromkeys(pairs) if p[0] in settings and p[1] in settings]


if __name__ == "__main__":
  main()

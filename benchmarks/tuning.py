"""Tuning INDIAN's (alpha, beta, lr): Optuna in batches against random search and the grid.

Quality at equal budget. Each search spends configuration-epochs (trials x epochs, one
training seed); the README's 4 x 4 x 3 grid (48 settings) sets the budget. TPE in batches of
16 and 32 and random search get the grid's budget (48 trials) and half of it (24), over the
ranges ``indian-optax tune`` searches by default; every search is repeated with sampler and
training seed r = 0 .. R-1 (the grid too, through its training seed). The setting each
search chooses (best final validation accuracy) is then trained again on three fresh seeds
and its mean final test accuracy is what the search is worth. Each search is compared with
the grid under the paired rule over the repetitions.

Speed. One batch of 32 trials trained as one program (``chunk_size=32``), against the same
32 trials run one program each, as ``study.optimize`` runs them (``batch=1, chunk_size=1``),
on the same epochs, with and without halving; both warmed up first (compilation excluded).

    python benchmarks/tuning.py              # updates RESULTS.md (about an hour on 2 cores)
    python benchmarks/tuning.py --quick      # smoke test
"""

import argparse
import pathlib
import sys
import tempfile
import time

import jax
import numpy as np
import optuna

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

from indian_optax.app import optimizers, sweep, tune  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
GRID = {
  "alpha": [0.1, 0.5, 1.0, 2.0],
  "beta": [0.01, 0.1, 0.5, 1.0],
  "learning_rate": [0.03, 0.1, 0.3],
}
SPACE = optimizers.TUNE_SPACES["indian"]
FRESH_SEEDS = [1000, 1001, 1002]
WORKLOADS = {  # (data set, model): epochs of every search
  ("digits", "mlp"): 10,
  ("mnist1d", "mlp"): 10,
  ("mnist1d", "cnn"): 4,
}


def factory(alpha, beta, learning_rate):
  return optimizers.FACTORIES["indian"](learning_rate, alpha, beta)


def searches(budget: int) -> dict[str, tuple[str, int, int]]:
  """name -> (sampler, batch, trials); the grid is searched apart."""
  half = budget // 2
  return {
    f"TPE, batch 16, {budget} trials": ("tpe", 16, budget),
    f"TPE, batch 32, {budget} trials": ("tpe", 32, budget),
    f"random, {budget} trials": ("random", budget, budget),
    f"TPE, batch 16, {half} trials": ("tpe", 16, half),
    f"TPE, batch 32, {half} trials": ("tpe", 32, half),
    f"random, {half} trials": ("random", half, half),
  }


def sampler(name: str, seed: int):
  if name == "tpe":
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
  return optuna.samplers.RandomSampler(seed=seed)


def chosen_value(inputs: dict, chosen: dict, epochs: int) -> float:
  """The chosen setting's mean final test accuracy over the fresh seeds."""
  values = {k: [v] for k, v in chosen.items()}
  result = sweep(factory, values, **inputs, epochs=epochs, seeds=FRESH_SEEDS)
  return float(np.mean(result.final_test_accuracy))


def quality(
  dataset: str, model: str, epochs: int, repetitions: int, budget: int, quick: bool
) -> tuple[list[list[str]], list[dict]]:
  """The table's rows of one workload, and its per-repetition rows."""
  inputs = _common.sweep_inputs(dataset, model)
  grid = dict(GRID) if not quick else {k: v[:2] for k, v in GRID.items()}
  label = "grid " + " x ".join(str(len(v)) for v in grid.values())
  methods = {label: None, **searches(budget)}
  if quick:  # the grid, one batched TPE and one random search
    methods = {k: v for i, (k, v) in enumerate(methods.items()) if i in (0, 1, 6)}
  worth: dict[str, dict[int, float]] = {name: {} for name in methods}
  spent: dict[str, float] = {name: 0.0 for name in methods}
  for r in range(repetitions):
    for name, search in methods.items():
      start = time.perf_counter()
      if search is None:
        result = sweep(factory, grid, **inputs, epochs=epochs, seeds=[r])
      else:
        kind, batch, trials = search
        study = optuna.create_study(direction="maximize", sampler=sampler(kind, r))
        result = tune(factory, SPACE, **inputs, epochs=epochs, seeds=[r], trials=trials,
                      batch=batch, study=study)  # fmt: skip
      best = {k: v for k, v in result.ranked_settings()[0].hyperparameters.items()
              if k not in ("trial",)}  # fmt: skip
      spent[name] += time.perf_counter() - start
      worth[name][r] = chosen_value(inputs, best, epochs)
      print(f"{dataset} {model} r={r} {name}: {worth[name][r]:.4f} {best}", flush=True)
  rows, seen = [], {}
  for name in methods:
    against = _common.paired_values(worth[name], worth[label], "final_test_accuracy")
    trials = budget if methods[name] is None else methods[name][2]
    # Two searches that ran the very same trials (TPE's random start is the whole of a
    # one-batch budget) are one test, not two: the second names the first.
    same = seen.setdefault(tuple(worth[name].values()), name)
    verdict = str(against) if same == name else f"the same runs as {same}: not a second test"
    rows.append([
      f"{dataset} {model}", name, f"{trials * epochs}", _common.mean_sd(list(worth[name].values())),
      "-" if methods[name] is None else verdict, f"{spent[name] / repetitions:.1f}",
    ])  # fmt: skip
  per_repetition = [
    {"setting": f"{dataset} {model}, {name}", "seed": r, "final_test_accuracy": value}
    for name in methods
    for r, value in worth[name].items()
  ]
  return rows, per_repetition


def speed(epochs: int, halving: bool, trials: int = 32, repeats: int = 3) -> list[str]:
  inputs = _common.sweep_inputs("digits", "mlp")
  schedule = dict(halving=3) if halving else {}

  def batched():
    study = optuna.create_study(direction="maximize", sampler=sampler("random", 0))
    tune(factory, SPACE, **inputs, epochs=epochs, trials=trials, batch=trials,
         chunk_size=trials, study=study, **schedule)  # fmt: skip

  def one_by_one():
    study = optuna.create_study(direction="maximize", sampler=sampler("random", 0))
    tune(factory, SPACE, **inputs, epochs=epochs, trials=trials, batch=1, chunk_size=1,
         study=study, **schedule)  # fmt: skip

  runs = {"batch": batched, "one": one_by_one}
  times = _common.interleaved_medians(runs, repeats=repeats, warmup=1)
  return [
    f"{trials} trials x {epochs} epochs" + (", halving eta 3" if halving else ""),
    f"{times['batch']:.1f}", f"{times['one']:.1f}", f"{times['one'] / times['batch']:.1f}x",
  ]  # fmt: skip


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true", help="tiny budget, 2 repetitions")
  parser.add_argument("--repetitions", type=int, default=5)
  parser.add_argument("--results", type=pathlib.Path, help="write the sections here")
  parser.add_argument(
    "--part", choices=("both", "speed", "quality"), default="both",
    help="the timing table needs a quiet machine, the quality table does not",
  )  # fmt: skip
  args = parser.parse_args(argv)
  repetitions, budget = (2, 8) if args.quick else (args.repetitions, 48)
  workloads = list(WORKLOADS.items())[:1] if args.quick else list(WORKLOADS.items())
  cache = pathlib.Path(tempfile.gettempdir()) / "indian-optax-benchmark-cache"
  jax.config.update("jax_compilation_cache_dir", str(cache))  # each search builds its programs
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  speed_rows = [
    speed(1, halving, trials=4, repeats=1) if args.quick else speed(10, halving)
    for halving in ((False,) if args.quick else (False, True))
    if args.part != "quality"
  ]
  speed_body = (
    "Wall time of one batch of trials trained as one vmapped program against the same trials "
    "run one program each (what Optuna's `study.optimize` does: one trial at a time), digits "
    "MLP, batch size 64, random sampler, compilation excluded (one warm-up run), medians of 3 "
    "interleaved runs.\n\n"
    + _common.markdown_table(
      ["trials", "one program: s", "one program each: s", "speed-up"], speed_rows
    )  # fmt: skip
  )
  rows, per_repetition = [], []
  for (dataset, model), epochs in workloads if args.part != "speed" else ():
    table, seeds = quality(
      dataset, model, 1 if args.quick else epochs, repetitions, budget, args.quick
    )
    rows, per_repetition = rows + table, per_repetition + seeds
  header = ["workload", "search", "config-epochs", "test accuracy of the chosen setting",
            "against the grid (paired over repetitions)", "s per search"]  # fmt: skip
  body = (
    f"Each search repeated {repetitions} times (sampler and training seed r); the chosen "
    f"setting retrained on seeds {FRESH_SEEDS} and its mean final test accuracy reported "
    f"({_common.SD_LABEL.replace('seeds', 'repetitions')}). Ranges searched: "
    + ", ".join(f"{k} {v.low:g}:{v.high:g} (log)" for k, v in SPACE.items())
    + ". " + _common.rule(repetitions).replace("seeds", "repetitions") + " "
    + _common.chance(sum("[" in row[4] for row in rows))
    + "\n\n" + _common.markdown_table(header, rows)
  )  # fmt: skip
  results = args.results or _common.RESULTS
  if (args.results or not args.quick) and args.part != "quality":
    _common.write_section("tuning_speed", speed_body, results)
  if (args.results or not args.quick) and args.part != "speed":
    _common.write_section("tuning_quality", body, results, seeds=per_repetition)
  print(speed_body + "\n\n" + body)


if __name__ == "__main__":
  main()

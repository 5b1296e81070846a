"""The headline comparisons: INDIAN and INNAprop against the Optax optimizers people pick.

MNIST-1D, MLP and CNN (digits with ``--setups``), 10 seeds, constant step sizes. Equal
budgets: every optimizer's learning rate is tuned on the same grid, widened by the same
rule until its chosen rate is interior, and nothing else is tuned: INDIAN and INNAprop
run at their default (alpha, beta). Weight decay is matched: AdamW runs with INNAprop's
decoupled decay (0.01), the others with none. Each optimizer's runs are one vmapped
program where the model allows (``indian_optax.app.sweep``). The best setting is the
sweep's own choice: mean final accuracy over the seeds on a validation split held out
from the training set (10 %, stratified); the test split is reported, never read to
choose.

The comparisons, each by the paired rule of ``_common.paired`` over the shared seeds on
the final test accuracy: INDIAN - momentum (its heavy-ball counterpart), INNAprop -
AdamW (its counterpart), and each against the best Optax optimizer (best validation
accuracy). Beside each: the smallest difference the comparison resolves with 80 % power
(``_common.resolution``) and the generalisation gap (test loss - training loss).

    python benchmarks/convergence.py            # updates RESULTS.md, figures/ and results/
    python benchmarks/convergence.py --quick    # smoke test: digits MLP, 1 epoch
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

from indian_optax.app import SweepResult, optimizers, plots, sweep  # noqa: E402

LEARNING_RATES = _common.half_decades(-6, -1)  # 0.001 to 0.316
WEIGHT_DECAY = 0.01
"""INNAprop's default decoupled decay, given to AdamW too (matched)."""
OPTIMIZERS = ("indian", "innaprop", "sgd", "momentum", "adam", "adamw", "adagrad")
PEERS = ("sgd", "momentum", "adam", "adamw", "adagrad")
FIXED = {"adamw": {"weight_decay": [WEIGHT_DECAY]}, "innaprop": {"weight_decay": [WEIGHT_DECAY]}}
SEEDS = tuple(range(10))
SETUPS = {
  "mnist1d-mlp": ("mnist1d", "mlp", 20),
  "mnist1d-cnn": ("mnist1d", "cnn", 8),  # the slowest setup: 8 epochs keep it to ~30 min
  "digits-mlp": ("digits", "mlp", 15),
  "digits-cnn": ("digits", "cnn", 15),
}
HEADLINE = ("mnist1d-mlp", "mnist1d-cnn")


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  parser.add_argument("--setups", default=",".join(HEADLINE), help="of " + ", ".join(SETUPS))
  parser.add_argument("--epochs", type=int, help="override every setup's epochs")
  args = parser.parse_args(argv)
  setups = [("digits", "mlp", 1)] if args.quick else [SETUPS[s] for s in args.setups.split(",")]
  if args.epochs:
    setups = [(dataset, model, args.epochs) for dataset, model, _ in setups]
  seeds = (0, 1) if args.quick else SEEDS
  lrs = [3e-3, 0.1] if args.quick else LEARNING_RATES
  names = ("indian", "innaprop", "momentum", "adamw") if args.quick else OPTIMIZERS
  results_md = args.results or _common.RESULTS
  figures = results_md.parent / "figures"
  figures.mkdir(parents=True, exist_ok=True)
  for dataset_name, model_name, epochs in setups:
    inputs = _common.sweep_inputs(dataset_name, model_name)
    results, grids = [], {}
    for name in names:
      run = lambda rates, name=name, inputs=inputs, epochs=epochs: sweep(
        optimizers.FACTORIES[name], {**FIXED.get(name, {}), "learning_rate": rates}, **inputs,
        epochs=epochs, batch_size=64, seeds=seeds, name=name,
      )  # fmt: skip
      tuned, edge = _common.tune_learning_rate(run, lrs, widen=0 if args.quick else 4)
      grids[name] = f"{len(tuned.settings())}: {edge}"
      results.append(tuned)
      print(dataset_name, model_name, name, grids[name], flush=True)
    result = SweepResult.concatenate(results)
    chosen = result.chosen_settings()
    title = f"{dataset_name}, {model_name}, {epochs} epochs, {len(seeds)} seeds"
    figure = f"convergence_{dataset_name}_{model_name}.png"
    if args.results or not args.quick:  # a smoke test never overwrites the real figures
      plots.curves(result, chosen, figures / figure, title=f"chosen setting of each: {title}")
    body = _section(title, figure, chosen, grids, lrs, len(seeds))
    # One section per setup, written as soon as it is done: a long run leaves its
    # finished tables behind, and a setup can be rerun on its own (--setups).
    section = f"convergence_{dataset_name}_{model_name}"
    if args.results or not args.quick:
      rows = _common.seed_rows(chosen, with_gap=True)
      _common.write_section(section, body, results_md, seeds=rows)
    print(body, flush=True)


def best_peer(chosen) -> str:
  """The Optax optimizer of best validation accuracy (``chosen`` is ranked best first)."""
  return next(
    s.hyperparameters["optimizer"] for s in chosen if s.hyperparameters["optimizer"] in PEERS
  )


def comparisons(chosen) -> list[tuple[str, str]]:
  """The distinct (a, b) pairs compared: each counterpart and each against the best peer."""
  by_name = {s.hyperparameters["optimizer"]: s for s in chosen}
  best = best_peer(chosen)
  pairs = [("indian", "momentum"), ("indian", best), ("innaprop", "adamw"), ("innaprop", best)]
  return [p for p in dict.fromkeys(pairs) if p[0] in by_name and p[1] in by_name]


def _section(title, figure, chosen, grids, lrs, n) -> str:
  by_name = {s.hyperparameters["optimizer"]: s for s in chosen}
  best = best_peer(chosen)
  rows = []
  for s in chosen:
    name = s.hyperparameters["optimizer"]
    shown = ", ".join(f"{k}={v:g}" for k, v in s.hyperparameters.items() if k != "optimizer")
    rows.append([
      name + (" (the best peer)" if name == best else ""), shown,
      _common.mean_sd(s.per_seed["final_val_accuracy"]),
      _common.mean_sd(s.per_seed["final_test_accuracy"]),
      _common.mean_sd(s.per_seed["final_train_loss"], ".3f"),
      _common.mean_sd(_common.gap(s), ".3f"), grids[name],
    ])  # fmt: skip
  table = _common.markdown_table(
    ["optimizer", "chosen setting", "final val accuracy", "final test accuracy",
     "final train loss", "gap: test loss - train loss", "configurations tried: learning rates"],
    rows,
  )  # fmt: skip
  versus = [
    _common.comparison_row(by_name[a], by_name[b], "final_test_accuracy",
                           f"{a} - {b}" + (" (the best peer)" if b == best else ""))
    for a, b in comparisons(chosen)
  ]  # fmt: skip
  comparison = _common.markdown_table(
    ["comparison", "final test accuracy difference", "resolves (80 % power)",
     "gap difference (lower is better)"], versus,
  )  # fmt: skip
  return (
    f"**{title}** (`figures/{figure}`). Equal budgets: every optimizer tuned its learning "
    f"rate alone on {lrs}, widened half a decade at a time while its choice sat on an end "
    f"(last column); INDIAN and INNAprop at their default (alpha, beta) (INDIAN "
    f"{_defaults('indian')}, INNAprop {_defaults('innaprop')}). Decoupled weight decay "
    f"{WEIGHT_DECAY:g} for AdamW and INNAprop alike (matched), none for the others. Batch 64; "
    "each setting chosen by mean final validation accuracy (10 % of the training set, held "
    "out); test accuracy never read to choose. The best peer is the Optax optimizer of best "
    f"validation accuracy. Gap: test loss - training loss (whole training split) of the same "
    f"run, the generalisation gap. Values: {_common.SD_LABEL}.\n\n"
    + table
    + f"\n\n{_common.rule(n)} {_common.RESOLUTION_LABEL}\n\n"
    + comparison
    + f"\n\n{_chance(chosen, best, n)}"
  )


def _chance(chosen, best: str, n: int) -> str:
  """Each comparison's accuracy and gap test; those against the best peer, chosen by the
  validation accuracy of the same runs, by ``chance_after_selection`` at the correlation
  of a run's validation and test accuracy measured here."""
  pairs = comparisons(chosen)
  against_best = sum(b == best for _, b in pairs)
  rho = _common.residual_correlation(chosen, "final_val_accuracy", "final_test_accuracy")
  peers = sum(s.hyperparameters["optimizer"] in PEERS for s in chosen)
  expected = _common.chance_after_selection(peers, against_best, n, rho=rho) if n > 1 else 0.0
  return (
    _common.chance(2 * len(pairs), selected=against_best, expected_selected=expected)
    + f" (Correlation of a run's validation and test accuracy here: {rho:.2f}.)"
  )


def _defaults(name: str, names: tuple[str, ...] = ("alpha", "beta")) -> str:
  values = [f"{optimizers.default(name, h):g}" for h in names]
  return values[0] if len(values) == 1 else f"({', '.join(values)})"


if __name__ == "__main__":
  main()

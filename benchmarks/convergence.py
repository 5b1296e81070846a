"""What each optimizer reaches: INDIAN and INNAprop against the Optax optimizers people pick.

Digits and MNIST-1D, MLP and CNN, 3 seeds, constant step sizes. Equal budgets: every
optimizer's learning rate is tuned on the same grid, widened by the same rule until its
chosen rate is interior, and nothing else is tuned: INDIAN and INNAprop run at their
default (alpha, beta). One extra, labelled row shows INDIAN with (alpha, beta) tuned
too, with the configurations it tried. Each optimizer's runs are one vmapped program
(``indian_optax.app.sweep``). The best setting is the sweep's own choice: mean final
accuracy over the seeds on a validation split held out from the training set (10 %,
stratified); the test split is reported, never read to choose. INDIAN and INNAprop are
then compared with the Optax optimizer of best validation accuracy on the final test
accuracy, by the paired rule of ``_common.paired`` over the shared seeds.

    python benchmarks/convergence.py            # updates RESULTS.md and benchmarks/figures/
    python benchmarks/convergence.py --quick    # smoke test: digits MLP, 1 epoch
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

from indian_optax.app import SweepResult, optimizers, plots, sweep  # noqa: E402

LEARNING_RATES = _common.half_decades(-6, -1)  # 0.001 to 0.316
INDIAN_GRID = {"alpha": [0.5, 1.0], "beta": [0.1, 0.5]}
TUNED = "indian, (alpha, beta) tuned"
"""The labelled extra row: INDIAN over ``INDIAN_GRID`` x the learning rates."""
OPTIMIZERS = ("indian", "innaprop", "sgd", "momentum", "adam", "adamw", "adagrad", TUNED)
PEERS = ("sgd", "momentum", "adam", "adamw", "adagrad")
COUNTERPARTS = (("indian", "momentum"), ("innaprop", "adamw"))
"""Each inertial optimizer and the Optax optimizer it is built like (heavy ball; AdamW)."""
SETUPS = {
  "digits-mlp": ("digits", "mlp", 15),
  "mnist1d-mlp": ("mnist1d", "mlp", 20),
  "digits-cnn": ("digits", "cnn", 15),
  "mnist1d-cnn": ("mnist1d", "cnn", 8),  # the slowest setup: 8 epochs keep it to ~10 min on 2 cores
}


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  parser.add_argument(
    "--setups", default=",".join(SETUPS), help="comma list of " + ", ".join(SETUPS)
  )
  parser.add_argument("--epochs", type=int, help="override every setup's epochs")
  args = parser.parse_args(argv)
  setups = [("digits", "mlp", 1)] if args.quick else [SETUPS[s] for s in args.setups.split(",")]
  if args.epochs:
    setups = [(dataset, model, args.epochs) for dataset, model, _ in setups]
  seeds = [0, 1] if args.quick else [0, 1, 2]
  lrs = [3e-3, 0.1] if args.quick else LEARNING_RATES
  names = ("indian", "innaprop", "momentum") if args.quick else OPTIMIZERS
  figures = pathlib.Path(__file__).parent / "figures"
  for dataset_name, model_name, epochs in setups:
    inputs = _common.sweep_inputs(dataset_name, model_name)
    results, grids = [], {}
    for name in names:
      extra = INDIAN_GRID if name == TUNED else {}
      factory = optimizers.FACTORIES["indian" if name == TUNED else name]
      run = lambda rates, factory=factory, name=name, extra=extra, inputs=inputs, epochs=epochs: (
        sweep(
          factory,
          {**extra, "learning_rate": rates},
          **inputs,
          epochs=epochs,
          batch_size=64,
          seeds=seeds,
          name=name,
        )
      )
      tuned, edge = _common.tune_learning_rate(run, lrs, widen=0 if args.quick else 4)
      grids[name] = f"{len(tuned.settings())}: {edge}"
      results.append(tuned)
      print(dataset_name, model_name, name, grids[name], results[-1].best(), flush=True)
    result = SweepResult.concatenate(results)
    chosen = result.chosen_settings()
    peers = [s for s in chosen if s.hyperparameters["optimizer"] in PEERS]
    rows = [_row(s, peers[0]) + [grids[s.hyperparameters["optimizer"]]] for s in chosen]
    title = f"{dataset_name}, {model_name}, {epochs} epochs, mean of {len(seeds)} seeds"
    figure = f"convergence_{dataset_name}_{model_name}.png"
    if not args.quick:
      plots.curves(result, chosen, figures / figure, title=f"chosen setting of each: {title}")
    table = _common.markdown_table(
      ["optimizer", "chosen setting", "final val accuracy", "final test accuracy",
       "final train loss", f"test accuracy - {peers[0].hyperparameters['optimizer']}",
       "configurations tried: learning rates"], rows,
    )  # fmt: skip
    edges = result.grid_edge_warnings()
    interior = "every chosen value is interior to its grid" if not edges else "; ".join(edges)
    body = (
      f"**{title}** (`figures/{figure}`). Equal budgets: every optimizer tuned its learning "
      f"rate alone on {lrs}, widened half a decade at a time while its choice sat on an end; "
      f"INDIAN and INNAprop at their default (alpha, beta) (INDIAN {_defaults('indian')}, "
      f"INNAprop {_defaults('innaprop')}); the row `{TUNED}` also tunes alpha x beta "
      f"{INDIAN_GRID['alpha']} x {INDIAN_GRID['beta']} ({_grid_size()} times the "
      "configurations: last column). Batch 64; each setting chosen by mean final "
      "validation accuracy (10 % of the training set, held out); test accuracy never read to "
      f"choose. Grid edges: {interior}. The sixth column compares each optimizer with the "
      f"Optax optimizer of best validation accuracy, "
      f"{peers[0].hyperparameters['optimizer']}, on final test accuracy. Decoupled weight "
      f"decay: INNAprop {_defaults('innaprop', ('weight_decay',))}, AdamW 1e-4 (the app's "
      f"factory); the others none. Accuracies: {_common.SD_LABEL}. "
      f"{_common.rule(len(seeds))}\n\n"
      + table
      + _counterparts(chosen)
      + f"\n\n{_common.chance(len(chosen) - 1 + len(COUNTERPARTS))}"
    )
    # One section per setup, written as soon as it is done: a long run leaves its
    # finished tables behind, and a setup can be rerun on its own (--setups).
    if args.results or not args.quick:
      section = f"convergence_{dataset_name}_{model_name}"
      _common.write_section(section, body, args.results or _common.RESULTS)
    print(body, flush=True)


def _counterparts(chosen) -> str:
  """Each inertial optimizer against its own Optax counterpart, by the same paired rule."""
  by_name = {s.hyperparameters["optimizer"]: s for s in chosen}
  rows = [
    [f"{a} - {b}", str(_common.paired(by_name[a], by_name[b], "final_test_accuracy"))]
    for a, b in COUNTERPARTS
    if a in by_name and b in by_name
  ]
  header = ["against its counterpart", "final test accuracy difference"]
  return "\n\n" + _common.markdown_table(header, rows) if rows else ""


def _grid_size() -> int:
  return len(INDIAN_GRID["alpha"]) * len(INDIAN_GRID["beta"])


def _defaults(name: str, names: tuple[str, ...] = ("alpha", "beta")) -> str:
  values = [f"{optimizers.default(name, h):g}" for h in names]
  return values[0] if len(values) == 1 else f"({', '.join(values)})"


def _row(setting, peer) -> list[str]:
  """A table row: optimizer, its chosen setting, mean ± std over seeds, the paired verdict."""
  hyper = {k: v for k, v in setting.hyperparameters.items() if k != "optimizer"}
  shown = ", ".join(f"{k}={v:g}" for k, v in hyper.items())
  metric = lambda m, f: _common.mean_sd(setting.per_seed[m], f)
  verdict = "" if setting is peer else str(_common.paired(setting, peer, "final_test_accuracy"))
  return [
    setting.hyperparameters["optimizer"],
    shown,
    metric("final_val_accuracy", ".4f"),
    metric("final_test_accuracy", ".4f"),
    f"{setting.mean['final_train_loss']:.3g}",
    verdict or "(the reference)",
  ]


if __name__ == "__main__":
  main()

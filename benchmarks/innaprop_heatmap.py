"""Does INNAprop's best (alpha, beta) move with the training budget?

Its authors found on CIFAR-10 that the best (alpha, beta) depends on the budget:
(0.1, 0.9) for short runs, (2, 2) for long ones. Here: one sweep of INNAprop's alpha x
beta x learning rate grid on MNIST-1D (MLP, 3 seeds) at a short budget and one
``LONG_FACTOR`` times longer, both with the sweep engine. Each cell shows the mean
final validation accuracy of its best learning rate (the sweep's own choice, per
cell); the section names each budget's best cell, whether the chosen learning rate
of each budget is interior, which cells chose a learning rate at an end of the fixed grid (the
grid is not widened: those cells' accuracies are lower bounds), and the rank correlation of
the cells between budgets.

    python benchmarks/innaprop_heatmap.py           # updates RESULTS.md and figures/
    python benchmarks/innaprop_heatmap.py --quick   # smoke test
"""

import argparse
import pathlib
import sys
import time

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import spearmanr

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

from indian_optax.app import optimizers, plots, sweep  # noqa: E402

GRID = {
  "alpha": [0.1, 0.5, 1.0, 2.0, 3.0],
  "beta": [0.1, 0.5, 0.9, 2.0, 3.0],
  "learning_rate": [1e-3, 3e-3, 1e-2, 3e-2],
}
SHORT_EPOCHS = 6
LONG_FACTOR = 6
SEEDS = (0, 1, 2)
DATASET, MODEL = "mnist1d", "mlp"


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    "--quick", action="store_true", help="smoke test: a 2 x 2 grid, 1 and 2 epochs"
  )
  parser.add_argument("--results", type=pathlib.Path, help="RESULTS.md to update")
  args = parser.parse_args(argv)
  grid = {"alpha": [0.1, 2.0], "beta": [0.9, 2.0], "learning_rate": [3e-3]} if args.quick else GRID
  budgets = (1, 2) if args.quick else (SHORT_EPOCHS, SHORT_EPOCHS * LONG_FACTOR)
  results = args.results or _common.RESULTS
  figures = results.parent / "figures"  # next to the RESULTS.md written, never the real ones
  figures.mkdir(parents=True, exist_ok=True)
  inputs = _common.sweep_inputs(DATASET, MODEL)
  runs, minutes = {}, {}
  for epochs in budgets:
    start = time.perf_counter()
    runs[epochs] = sweep(
      optimizers.FACTORIES["innaprop"], grid, **inputs, epochs=epochs, seeds=SEEDS, name="innaprop"
    )
    minutes[epochs] = (time.perf_counter() - start) / 60
  figure = "innaprop_heatmap_budgets.png"
  _draw(runs, figures / figure)
  body = _section(runs, minutes, grid, figure)
  rows = [
    dict(row, epochs=epochs)
    for epochs, result in runs.items()
    for row in _common.seed_rows(
      [s for s in _cells(result).values() if s is not None],
      label=lambda s, e=epochs: (
        f"({s.hyperparameters['alpha']:g}, {s.hyperparameters['beta']:g}) at {e}"
      ),
    )
  ]
  if args.results or not args.quick:
    _common.write_section("innaprop_heatmap", body, results, seeds=rows)
  print(body, flush=True)


def _draw(runs: dict, path: pathlib.Path) -> None:
  fig = Figure(figsize=(6.5 * len(runs), 5))
  for ax, (epochs, result) in zip(fig.subplots(1, len(runs)), runs.items(), strict=True):
    title = f"INNAprop, {DATASET} {MODEL}, {epochs} epochs: val accuracy (best lr per cell)"
    plots.heatmap(result, metric="final_val_accuracy", ax=ax, title=title)
  fig.tight_layout()
  fig.savefig(path, dpi=110)


def _cells(result) -> dict:
  """(alpha, beta) -> the best setting of the cell (over learning rates)."""
  rows, columns, table = plots.grid_table(result, "beta", "alpha")
  return {(a, b): table[i][j] for i, b in enumerate(rows) for j, a in enumerate(columns)}


def _against_the_best(cells: dict, best) -> dict:
  """(alpha, beta) -> the cell's paired comparison with the best setting, on validation
  accuracy (None for the best itself and for an empty cell). The cells come from
  sub-results: each carries its own per-seed numbers (``per_seed``)."""
  is_best = lambda s: s.hyperparameters == best.hyperparameters
  return {
    key: None if s is None or is_best(s) else _common.paired(s, best, "final_val_accuracy")
    for key, s in cells.items()
  }


def _cell_table(cells: dict, versus: dict) -> str:
  """One row per (alpha, beta): at each budget its chosen lr, accuracy and the paired verdict."""
  header = ["(alpha, beta)"]
  for epochs in cells:
    header += [f"lr at {epochs}", f"val accuracy at {epochs}", f"- the best at {epochs}"]
  rows = []
  for key in sorted(next(iter(cells.values()))):
    row = [f"({key[0]:g}, {key[1]:g})"]
    for epochs, budget in cells.items():
      s = budget[key]
      if s is None:
        row += ["", "", ""]
        continue
      comparison = versus[epochs][key]
      row += [
        f"{s.hyperparameters['learning_rate']:g}",
        _common.mean_sd(s.per_seed["final_val_accuracy"]),
        "(the best)" if comparison is None else str(comparison),
      ]
    rows.append(row)
  return _common.markdown_table(header, rows)


def _section(runs: dict, minutes: dict, grid: dict, figure: str) -> str:
  lines, cells, versus = [], {}, {}
  for epochs, result in runs.items():
    cells[epochs] = _cells(result)
    best = result.ranked_settings()[0]
    versus[epochs] = _against_the_best(cells[epochs], best)
    h = best.hyperparameters
    edges = [w for w in result.grid_edge_warnings() if "learning_rate" in w]
    rates = grid["learning_rate"]
    on_edge = sorted(
      (k, s.hyperparameters["learning_rate"]) for k, s in cells[epochs].items()
      if s and len(rates) >= 3 and s.hyperparameters["learning_rate"] in (rates[0], rates[-1])
    )  # fmt: skip
    listed = ", ".join(f"({a:g}, {b:g}) at {r:g}" for (a, b), r in on_edge) or "none"
    lines.append(
      f"{epochs} epochs ({minutes[epochs]:.1f} min): best cell alpha={h['alpha']:g}, "
      f"beta={h['beta']:g} at lr={h['learning_rate']:g}, validation accuracy "
      f"{_common.mean_sd(best.per_seed['final_val_accuracy'])}, test "
      f"{best.mean['final_test_accuracy']:.4f}; its learning rate "
      + ("is interior to the grid" if not edges else "is at an edge: " + edges[0])
      + f"; {len(on_edge)} of {len(cells[epochs])} cells chose the smallest or largest "
      f"learning rate ((alpha, beta) at lr): {listed}"
    )
  short, long = list(runs)
  keys = sorted(cells[short])
  score = lambda e: [
    cells[e][k].mean["final_val_accuracy"] if cells[e][k] else np.nan for k in keys
  ]
  rho = spearmanr(score(short), score(long), nan_policy="omit").statistic
  moved = runs[short].ranked_settings()[0].hyperparameters
  stayed = runs[long].ranked_settings()[0].hyperparameters
  same = (moved["alpha"], moved["beta"]) == (stayed["alpha"], stayed["beta"])
  top = lambda e: sorted(
    keys, key=lambda k: -np.nan_to_num(cells[e][k].mean["final_val_accuracy"], nan=-1)
  )[:5]
  lines.append(
    f"the best cell {'stays' if same else 'moves'} between budgets; Spearman correlation of "
    f"the {len(keys)} cells' accuracies between budgets: {rho:.2f}"
  )
  for epochs in runs:
    best = top(epochs)
    alphas, betas = np.array(best).T
    lines.append(
      f"{epochs} epochs: the five best cells (alpha, beta) "
      f"{[(float(a), float(b)) for a, b in best]}, mean alpha {alphas.mean():.2f}, mean beta "
      f"{betas.mean():.2f}"
    )
  return (
    f"**INNAprop (alpha, beta) at two budgets** (`figures/{figure}`): {DATASET} {MODEL}, "
    f"alpha {grid['alpha']} x beta {grid['beta']} x learning rate {grid['learning_rate']}, "
    f"sigma and weight decay at their defaults, batch 64, {len(SEEDS)} seeds, selection by "
    f"final validation accuracy (10 % held out of the training set); {_common.SD_LABEL}. The "
    "grid is fixed (not widened): a cell whose chosen learning rate is the grid's smallest or "
    "largest might do better beyond it, so its accuracy is a lower bound and its rank "
    f"provisional. {_common.rule(len(SEEDS))}\n\n"
    + "\n".join(f"- {line}" for line in lines)
    + "\n\nEach cell at each budget (its best learning rate; validation accuracy "
    "against the best cell's, the paired rule above):\n\n"
    + _cell_table(cells, versus)
    + f"\n\n{_chance(len(keys), len(runs))}"
  )


def _chance(cells: int, budgets: int) -> str:
  """Every other cell against the best, chosen by the same validation accuracy it is tested on."""
  by_chance = _common.chance_after_selection(cells, 0, len(SEEDS), pool_tested=True)
  tests = budgets * (cells - 1)
  return _common.chance(tests, selected=tests, expected_selected=budgets * by_chance) + (
    f" Per budget: {cells - 1} tests, about {by_chance:.1f} by chance where 5 % of them would "
    f"be {0.05 * (cells - 1):.1f}: the best cell is the luckiest of {cells} on the very "
    "numbers it is compared on."
  )


if __name__ == "__main__":
  main()

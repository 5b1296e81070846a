"""Successive halving against the full grid: configuration-epochs, wall time, the chosen setting.

For INDIAN and INNAprop 64-setting alpha x beta x lr grids on digits and MNIST-1D (MLPs),
the full grid and the same grid with halving (eta 3) run back to back in one process.
Reported: configuration-epochs trained, wall time (compilation included, as a user sees
it), and the test accuracy of each one's validation-chosen setting. Budget honesty: the
Spearman rank correlation between the settings' ranking after each epoch (mean validation
accuracy over seeds) and the full grid's final ranking, from the full grid's own history.

    python benchmarks/halving.py            # updates RESULTS.md and figures/halving_spearman.png
    python benchmarks/halving.py --quick    # smoke test
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

from indian_optax.app import SweepResult, optimizers, sweep  # noqa: E402

GRIDS = {
  "indian": {
    "alpha": [0.1, 0.5, 1.0, 2.0],
    "beta": [0.01, 0.1, 0.5, 1.0],
    "learning_rate": [0.03, 0.1, 0.3, 1.0],
  },
  "innaprop": {
    "alpha": [0.1, 0.5, 1.0, 2.0],
    "beta": [0.1, 0.5, 0.9, 2.0],
    "learning_rate": [1e-3, 3e-3, 1e-2, 3e-2],
  },
}
SETUPS = {"digits": 12, "mnist1d": 12}


def settings_at(result: SweepResult, epoch: int) -> np.ndarray:
  """Each setting's mean validation accuracy after ``epoch`` epochs (NaN if a seed diverged)."""
  return np.array([
    np.mean(result.where(**s.hyperparameters).val_accuracy[:, epoch - 1])
    for s in result.settings()
  ])  # fmt: skip


def rank_correlations(full: SweepResult) -> list[float]:
  """Spearman correlation of the ranking after each epoch with the final ranking."""
  final = np.nan_to_num(settings_at(full, full.epochs), nan=-1.0)
  return [
    float(spearmanr(np.nan_to_num(settings_at(full, e), nan=-1.0), final).statistic)
    for e in range(1, full.epochs + 1)
  ]


def compare(name: str, dataset_name: str, epochs: int, grid: dict, seeds: list[int]) -> dict:
  arguments = _common.sweep_inputs(dataset_name, "mlp")
  arguments |= dict(epochs=epochs, batch_size=64, seeds=seeds)
  timed = {}
  for mode, halving in (("full", None), ("halving", 3.0)):
    start = time.perf_counter()
    timed[mode] = sweep(optimizers.FACTORIES[name], grid, halving=halving, **arguments)
    timed[mode + "_seconds"] = time.perf_counter() - start
  return timed


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  args = parser.parse_args(argv)
  setups = {"digits": 3} if args.quick else SETUPS
  names = ["indian"] if args.quick else list(GRIDS)
  seeds = [0] if args.quick else [0, 1]
  rows, curves, seed_rows = [], {}, []
  for dataset_name, epochs in setups.items():
    for name in names:
      grid = {k: v[:2] for k, v in GRIDS[name].items()} if args.quick else GRIDS[name]
      m = compare(name, dataset_name, epochs, grid, seeds)
      full, cut = m["full"], m["halving"]
      correlations = rank_correlations(full)
      curves[f"{name}, {dataset_name}"] = (correlations, epochs)
      rung = {
        e: correlations[e - 1] for e in sorted(set(cut.epochs_trained.tolist())) if e < epochs
      }
      chosen_full, chosen_cut = full.best(), cut.best()
      for mode, result in (("full", full), ("halving", cut)):
        label = f"{name}, {dataset_name}, {mode}"
        seed_rows += _common.seed_rows(result.ranked_settings()[:1], label=lambda _, t=label: t)
      test_full, test_cut = chosen_full["final_test_accuracy"], chosen_cut["final_test_accuracy"]
      share = np.sum(cut.epochs_trained) / np.sum(full.epochs_trained)
      rows.append([
        dataset_name, name, len(full.settings()),
        f"{int(np.sum(full.epochs_trained))} / {int(np.sum(cut.epochs_trained))} (**{share:.0%}**)",
        f"{m['full_seconds']:.0f} / {m['halving_seconds']:.0f} "
        f"(**{m['halving_seconds'] / m['full_seconds']:.0%}**)",
        f"{test_full:.4f} / {test_cut:.4f} ({100 * (test_cut - test_full):+.2f} pt)",
        "same" if _setting(chosen_full) == _setting(chosen_cut) else "different",
        ", ".join(f"epoch {e}: {r:.2f}" for e, r in rung.items()),
        _learning_rate_note(full),
      ])  # fmt: skip
      print(" | ".join(str(c) for c in rows[-1]), flush=True)
  figure = pathlib.Path(__file__).parent / "figures" / "halving_spearman.png"
  if not args.quick:
    _plot(curves, figure)
  header = [
    "data", "optimizer", "settings", "config-epochs full / halving", "wall s full / halving",
    "chosen test acc full / halving", "chosen setting", "Spearman at the rungs",
    "full grid's chosen lr",
  ]  # fmt: skip
  body = (
    f"Halving with eta 3 (rungs after epochs {sorted(set(cut.epochs_trained.tolist()))[:-1]}), "
    f'{len(seeds)} seeds per setting, MLP 128 wide, batch 64, `chunk_size="auto"`, selection '
    "by mean validation accuracy; wall time includes compilation. Spearman: rank correlation of "
    "the settings' mean validation accuracy after that epoch with the full grid's final one "
    f"(`figures/{figure.name}`).\n\n" + _common.markdown_table(header, rows)
  )
  if args.results or not args.quick:
    _common.write_section("halving", body, args.results or _common.RESULTS, seeds=seed_rows)
  print(body)


def _learning_rate_note(result) -> str:
  """The full grid's chosen learning rate, and whether it is interior to the grid."""
  rate = result.best()["learning_rate"]
  edge = any("learning_rate" in warning for warning in result.grid_edge_warnings())
  return f"{rate:g} ({'at an end of the grid' if edge else 'interior'})"


def _setting(best: dict) -> tuple:
  return tuple((k, best[k]) for k in ("alpha", "beta", "learning_rate"))


def _plot(curves: dict, path: pathlib.Path) -> None:
  fig = Figure(figsize=(7, 4.2))
  ax = fig.subplots()
  for label, (correlations, epochs) in curves.items():
    ax.plot(range(1, epochs + 1), correlations, marker="o", label=label)
  ax.axvline(1, color="grey", lw=0.8, ls=":")
  ax.axvline(4, color="grey", lw=0.8, ls=":")
  ax.set_xlabel("epoch (dotted: the rungs of eta 3 over 12 epochs)")
  ax.set_ylabel("Spearman vs the final ranking")
  ax.set_ylim(-0.2, 1.02)
  ax.legend(fontsize=8)
  ax.set_title("How early does the ranking of settings settle?")
  fig.tight_layout()
  fig.savefig(path, dpi=110)


if __name__ == "__main__":
  main()

"""What saving a sweep after each chunk costs: the command's saver against a whole rewrite.

A sweep of N runs (15 epochs each, the command's records) is saved after every chunk of 16 runs,
as ``indian-optax sweep`` does: by ``results.Saver`` (each run turned into text once, no
summary until the result is complete) and, for comparison, by a fresh save of the whole result
each time (what the command did before). Reported: the mean seconds per chunk save and the
total over the sweep, at 10, 100 and 1000 runs.

    python benchmarks/save_cost.py            # writes its section of RESULTS.md
    python benchmarks/save_cost.py --quick    # smoke test
"""

import argparse
import dataclasses
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

from indian_optax.app import SweepResult, results  # noqa: E402

EPOCHS, CHUNK = 15, 16


def sweep_result(runs: int) -> SweepResult:
  """A complete-looking result of ``runs`` runs (random metrics, the command's fields)."""
  rng = np.random.default_rng(0)
  history = lambda: rng.uniform(0, 1, (runs, EPOCHS))
  configs = [{"optimizer": "indian", "alpha": 0.1 * (i % 7), "beta": 0.1 * (i % 5),
              "learning_rate": 0.1, "seed": i // 35} for i in range(runs)]  # fmt: skip
  return SweepResult(
    configs=configs, epochs=EPOCHS, train_loss=history(), val_accuracy=history(),
    test_accuracy=history(), val_loss=history(), test_loss=history(),
    final_train_loss=rng.uniform(0, 1, runs), diverged_at=[None] * runs,
    epochs_trained=np.full(runs, EPOCHS), selection="val_accuracy", devices=1, complete=False,
  )  # fmt: skip


def chunk_saves(runs: int, save) -> list[float]:
  """Seconds of each save after a chunk, ``save(result, folder)`` at every prefix."""
  whole, seconds = sweep_result(runs), []
  with tempfile.TemporaryDirectory() as folder:
    for end in range(min(CHUNK, runs), runs + CHUNK, CHUNK):
      part = whole.take(range(min(end, runs)))
      start = time.perf_counter()
      save(part, folder)
      seconds.append(time.perf_counter() - start)
  return seconds


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  args = parser.parse_args(argv)
  rows = []
  for runs in (10, 40) if args.quick else (10, 100, 1000):
    saver = results.Saver()
    ours = chunk_saves(runs, saver.save)
    whole = chunk_saves(runs, lambda r, f: dataclasses.replace(r, complete=True).save(f))
    rows.append([
      str(runs), str(len(ours)), f"{1e3 * np.mean(ours):.1f}", f"{1e3 * ours[-1]:.1f}",
      f"{sum(ours):.2f}", f"{1e3 * np.mean(whole):.1f}", f"{sum(whole):.2f}",
    ])  # fmt: skip
    print(" | ".join(rows[-1]), flush=True)
  header = [
    "runs", "chunk saves", "saver: ms per save (mean)", "saver: ms, last save",
    "saver: s in all", "whole rewrite + summary: ms per save", "whole: s in all",
  ]  # fmt: skip
  body = (
    f"Runs of {EPOCHS} epochs saved after every chunk of {CHUNK}, into a temporary folder on "
    "this machine's disk (each file synced before its rename). 'saver' is what the command does "
    "(`results.Saver`: each run serialised once, no summary until complete); 'whole' is a "
    "fresh save of the complete-marked result at every chunk (serialising every run and "
    "computing best, chosen and warnings each time, as the command did before).\n\n"
    + _common.markdown_table(header, rows)
  )
  if args.results or not args.quick:
    _common.write_section("save_cost", body, args.results or _common.RESULTS)
  print(body)


if __name__ == "__main__":
  main()

"""The summary a command prints: settings (mean ± std over seeds), the choice, warnings, files."""

import math
import pathlib
from collections.abc import Sequence
from typing import Optional

import numpy as np

from indian_optax.app.results import SELECTIONS, Setting, SweepResult

_SHORT = {"learning_rate": "lr"}


def _mean_std(setting: Setting, metric: str, digits: int = 4) -> str:
  mean, std = setting.mean[metric], setting.std[metric]
  if math.isnan(mean):
    return "diverged" if setting.diverged else "-"
  if len(setting.runs) == 1:
    return f"{mean:.{digits}f}"
  return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _table(result: SweepResult, settings: Sequence[Setting]) -> list[str]:
  names = result.hyperparameter_names
  named = any("optimizer" in s.hyperparameters for s in settings)
  header = ["rank"] + ["optimizer"] * named + [_SHORT.get(n, n) for n in names]
  header += ["seeds", "val accuracy", "test accuracy", "train loss", "diverged"]
  stopped = any(not s.trained_to_end for s in settings)
  header += ["epochs"] * stopped
  rows = []
  for rank, setting in enumerate(settings, start=1):
    hyper = setting.hyperparameters
    row = [str(rank)] + [str(hyper.get("optimizer", ""))] * named
    row += ["-" if hyper.get(n) is None else f"{hyper[n]:g}" for n in names]
    row += [
      str(len(setting.runs)),
      _mean_std(setting, "final_val_accuracy"),
      _mean_std(setting, "final_test_accuracy"),
      _mean_std(setting, "final_train_loss"),
      f"{setting.diverged}/{len(setting.runs)}" if setting.diverged else "-",
    ]
    row += [str(min(np.asarray(result.epochs_trained)[list(setting.runs)]))] * stopped
    rows.append(row)
  widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
  return [
    "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]
  ]


def render(
  result: SweepResult,
  files: Sequence[pathlib.Path],
  *,
  limit: int = 12,
  note: Optional[str] = None,
) -> str:
  """The summary of a result: best settings first (each optimizer's choice for ``compare``)."""
  info = result.info
  split = SELECTIONS[result.selection][0]
  lines = [
    f"{info.get('command', 'sweep')} on {info.get('dataset', '?')} ({info.get('model', '?')}), "
    f"{result.epochs} epochs; settings ranked by final {result.selection.replace('_', ' ')} "
    f"on the {split} split (test accuracy is reported, never used to choose)"
  ]
  if not result.complete:
    lines.append(f"INCOMPLETE: {len(result.configs)} runs finished; continue with --resume")
  if info.get("command") == "compare":
    settings, total, what = result.chosen_settings(), len(result.optimizers), "optimizers' choices"
  else:
    settings, what = result.ranked_settings(), "settings"
    total = len(settings)
  lines += _table(result, settings[:limit])
  halving = info.get("halving")
  if halving:
    trained = int(np.sum(np.asarray(result.epochs_trained)))
    lines.append(
      f"successive halving (eta {halving['eta']:g}, rungs after epochs {halving['rungs']}): "
      f"{trained} of {len(result.configs) * result.epochs} configuration-epochs trained; "
      "settings stopped early rank after those trained to the end"
    )
  lines.append(f"showing {min(limit, len(settings))} of {total} {what}")
  best = result.ranked_settings()[0]
  chosen = " ".join(f"{_SHORT.get(k, k)}={v}" for k, v in best.hyperparameters.items())
  lines.append(
    f"chosen: {chosen}: test accuracy {_mean_std(best, 'final_test_accuracy')}"
    + (f", {best.diverged} of its runs diverged" if best.diverged else "")
  )
  lines += [f"warning: {w}" for w in result.grid_edge_warnings()]
  if note:
    lines.append(note)
  if files:
    lines += ["files written:"] + [f"  {f}" for f in files]
  return "\n".join(lines)

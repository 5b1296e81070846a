"""What a command shows: the summary it prints and the figures it draws.

Everything here reads a :class:`~indian_optax.app.SweepResult` and its
:class:`~indian_optax.app.results.Metadata`; nothing is re-derived from files.
"""

import functools
import io
import math
import pathlib
from collections.abc import Callable, Sequence
from typing import Any, Optional

from indian_optax.app import plots
from indian_optax.app.optimizers import OPTION_NAMES
from indian_optax.app.results import SELECTIONS, Setting, SweepResult


def _epochs(n: int) -> str:
  return f"{n} epoch" if n == 1 else f"{n} epochs"


def _mean_std(setting: Setting, metric: str, digits: int = 4) -> str:
  mean, std = setting.mean[metric], setting.std[metric]
  if math.isnan(mean):
    return "diverged" if setting.diverged else "-"
  if len(setting.seeds) == 1:
    return f"{mean:.{digits}f}"
  return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _table(result: SweepResult, settings: Sequence[Setting]) -> list[str]:
  names = result.hyperparameter_names
  named = any("optimizer" in s.hyperparameters for s in settings)
  trials = any("trial" in s.hyperparameters for s in settings)  # a tuning's
  header = ["rank"] + ["optimizer"] * named + ["trial"] * trials
  header += [OPTION_NAMES.get(n, n) for n in names]
  header += ["seeds", "val accuracy", "test accuracy", "train loss", "diverged"]
  stopped = any(not s.trained_to_end for s in settings)
  header += ["epochs"] * stopped
  rows = []
  for rank, setting in enumerate(settings, start=1):
    hyper = setting.hyperparameters
    row = [str(rank)] + [str(hyper.get("optimizer", ""))] * named
    row += [str(hyper.get("trial", ""))] * trials
    row += ["-" if hyper.get(n) is None else f"{hyper[n]:g}" for n in names]
    row += [
      str(len(setting.seeds)),
      _mean_std(setting, "final_val_accuracy"),
      _mean_std(setting, "final_test_accuracy"),
      _mean_std(setting, "final_train_loss"),
      f"{setting.diverged}/{len(setting.seeds)}" if setting.diverged else "-",
    ]
    row += [str(setting.epochs_trained)] * stopped
    rows.append(row)
  widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
  return [
    "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]
  ]


def summary(
  result: SweepResult,
  files: Sequence[pathlib.Path],
  *,
  limit: int = 12,
  note: Optional[str] = None,
) -> str:
  """The summary of a result: best settings first (each optimizer's choice for ``compare``)."""
  meta = result.metadata
  command = meta.command if meta else "sweep"
  split = SELECTIONS[result.selection][0]
  lines = [
    f"{command} on {meta.dataset if meta else '?'} ({meta.model if meta else '?'}), "
    f"{_epochs(result.epochs)}; "
    + (
      "one setting"
      if command == "train"
      else f"settings ranked by final {result.selection.replace('_', ' ')} on the {split} split"
    )
    + " (test accuracy is reported, never used to choose; ± is the population standard "
    "deviation over the seeds)"
  ]
  if not result.complete:
    lines.append(f"INCOMPLETE: {len(result.configs)} runs finished; continue with --resume")
  ranked = result.ranked_settings()
  if command == "compare":
    settings, total, what = result.chosen_settings(), len(result.optimizers), "optimizers' choices"
  else:
    settings, total, what = ranked, len(ranked), "settings"
  lines += _table(result, settings[:limit])
  if meta is not None and meta.halving is not None:
    trained = int(sum(result.epochs_trained))
    lines.append(
      f"successive halving (eta {meta.halving.eta:g}, rungs after epochs "
      f"{list(meta.halving.rungs)}): {trained} of {len(result.configs) * result.epochs} "
      "configuration-epochs trained; settings stopped early rank after those trained to the end"
    )
  if total > 1:
    lines.append(f"showing {min(limit, len(settings))} of {total} {what}")
  if not ranked:
    return "\n".join([*lines, "no run has finished", *_files(files)])
  best = ranked[0]
  chosen = " ".join(
    f"{OPTION_NAMES.get(k, k)}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
    for k, v in best.hyperparameters.items()
  )
  lines.append(
    f"chosen: {chosen}: test accuracy {_mean_std(best, 'final_test_accuracy')}"
    + (f", {best.diverged} of its runs diverged" if best.diverged else "")
  )
  lines += [f"warning: {w}" for w in result.grid_edge_warnings()]
  if note:
    lines.append(note)
  return "\n".join(lines + _files(files))


def _files(files: Sequence[pathlib.Path]) -> list[str]:
  return ["files written:"] + [f"  {f}" for f in files] if files else []


def figures(result: SweepResult) -> dict[str, Callable[[pathlib.Path], Any]]:
  """The PNGs of a result set: name -> draw(path)."""
  meta = result.metadata
  command = meta.command if meta else None
  title = (
    f"{meta.dataset if meta else None}, {meta.model if meta else None}, {_epochs(result.epochs)}"
  )
  drawn: dict[str, Callable[[pathlib.Path], Any]] = {}
  if command == "sweep" and {"alpha", "beta"} <= set(result.hyperparameter_names):
    metrics = [f"final_{result.selection}"] + ["final_train_loss"] * (
      result.selection != "train_loss"
    )
    for metric in metrics:
      label = f"{result.optimizers[0]}: {metric.replace('_', ' ')} ({title})"
      drawn[f"heatmap_{metric.removeprefix('final_')}.png"] = functools.partial(
        _heatmap, result, metric=metric, title=label
      )
  if command == "tune" and result.configs:
    searched = [n for n in result.hyperparameter_names
                if len({c[n] for c in result.configs}) > 1]  # fmt: skip
    if len(searched) >= 2:
      x, y = searched[:2]
      drawn["trials.png"] = functools.partial(
        plots.trials, result, x=x, y=y, title=f"{len(result.settings())} trials: {title}"
      )
    drawn["trial_history.png"] = functools.partial(plots.trial_history, result, title=title)
  if command == "compare":
    settings, what = result.chosen_settings(), "each optimizer's chosen setting"
  else:
    settings, what = result.ranked_settings()[:8], "the best settings"
  drawn["curves.png"] = lambda path: plots.curves(
    result, settings, path, title=f"mean over seeds, {what}: {title}"
  )
  return drawn


def _heatmap(result: SweepResult, path: pathlib.Path, *, metric: str, title: str) -> None:
  plots.heatmap(result, path, metric=metric, title=title)


def png(drawing: Callable[[Any], Any]) -> bytes:
  """The PNG that ``drawing`` (a value of :func:`figures`) draws, in memory."""
  image = io.BytesIO()
  drawing(image)
  return image.getvalue()

"""PNG plots of sweep results (matplotlib, no display needed), all read from a SweepResult."""

import pathlib
import typing
from collections.abc import Sequence
from typing import BinaryIO, Optional, Union

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from indian_optax.app.results import Setting, SweepResult, higher_is_better

# Figures are built with matplotlib's object API, not pyplot: writing a PNG needs no
# display and leaves the caller's backend (a notebook's inline one, say) untouched.

_MASKED_FACE = "#d9d9d9"


def grid_table(
  result: SweepResult, rows: str, columns: str
) -> tuple[list[float], list[float], list[list[Optional[Setting]]]]:
  """The chosen setting of each (row, column) cell, by the sweep's own "best setting" rule.

  Returns:
    The row values, the column values and, per cell, the best
    :class:`~indian_optax.app.Setting` among its runs (None for an empty cell).
  """
  row_values = sorted({c[rows] for c in result.configs})
  column_values = sorted({c[columns] for c in result.configs})
  table: list[list[Optional[Setting]]] = []
  for r in row_values:
    cells = []
    for c in column_values:
      runs = result.where(**{rows: r, columns: c})
      cells.append(runs.ranked_settings()[0] if runs.configs else None)
    table.append(cells)
  return row_values, column_values, table


def heatmap(
  result: SweepResult,
  path: Optional[Union[pathlib.Path, BinaryIO]] = None,
  *,
  metric: Optional[str] = None,
  rows: str = "beta",
  columns: str = "alpha",
  title: str = "",
  ax: Optional[Axes] = None,
) -> Figure:
  """A heatmap of a final metric over two hyperparameters.

  Each cell shows the mean over seeds of its best setting (by the sweep's selection, over
  the other hyperparameters). Diverged cells are grey, hatched and labelled, cells stopped by
  halving grey; the colour bar spans the finite cells only.

  Args:
    result: a :class:`~indian_optax.app.SweepResult`.
    path: where to write a PNG, a path or a binary file (optional).
    metric: ``final_val_accuracy``, ``final_test_accuracy`` or
      ``final_train_loss`` (default: the sweep's selection metric).
    rows, columns: the hyperparameters along the vertical and horizontal axes.
    title: the title (default: the metric).
    ax: matplotlib axes to draw on (default: a new figure).

  Returns:
    The figure drawn on.
  """
  metric = metric or f"final_{result.selection}"
  maximise = higher_is_better(metric)
  row_values, column_values, cells = grid_table(result, rows, columns)
  shown = lambda s: np.nan if s is None or not s.trained_to_end else s.mean[metric]
  values = np.array([[shown(s) for s in row] for row in cells])
  if ax is None:
    ax = Figure(figsize=(1.1 * len(column_values) + 2.5, 0.9 * len(row_values) + 1.8)).subplots()
  fig = typing.cast(Figure, ax.get_figure())
  finite = values[np.isfinite(values)]
  norm = Normalize(*(finite.min(), finite.max())) if finite.size else Normalize(0, 1)
  # Bright colours mean good: high accuracy, low loss.
  image = ax.imshow(
    np.ma.masked_invalid(values),
    cmap="viridis" if maximise else "viridis_r",
    norm=norm,
    origin="lower",
    aspect="auto",
  )
  for (i, j), value in np.ndenumerate(values):
    _label_cell(ax, image, i, j, value, cells[i][j], maximise)
  ax.set_xticks(range(len(column_values)), [f"{v:g}" for v in column_values])
  ax.set_yticks(range(len(row_values)), [f"{v:g}" for v in row_values])
  ax.set_xlabel(columns)
  ax.set_ylabel(rows)
  if finite.size:
    fig.colorbar(image, ax=ax, label=metric.replace("_", " ") + " (finite runs)")
  note = "" if finite.size else " - every run diverged"
  ax.set_title((title or metric.replace("_", " ")) + note)
  if path is not None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
  return fig


def _label_cell(ax, image, i, j, value, setting, maximise) -> None:
  """Writes a cell's value in a colour that contrasts with it; marks diverged cells."""
  if setting is None:
    return
  if not np.isfinite(value):  # diverged, or stopped early by successive halving
    stopped = not setting.trained_to_end and not setting.diverged
    ax.add_patch(_masked_patch(j, i, hatch="" if stopped else "///"))
    box = {"facecolor": "white", "edgecolor": "none", "pad": 1.5}
    label = "stopped" if stopped else "diverged"
    ax.text(j, i, label, ha="center", va="center", color="k", fontsize=8, bbox=box)
    return
  red, green, blue, _ = image.cmap(image.norm(value))
  luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
  text = f"{value:.3f}" if maximise else f"{value:.3g}"
  ax.text(j, i, text, ha="center", va="center", color="k" if luminance > 0.5 else "w", fontsize=8)


def _masked_patch(x: float, y: float, hatch: str) -> Rectangle:
  return Rectangle(
    (x - 0.5, y - 0.5), 1, 1, facecolor=_MASKED_FACE, edgecolor="#7f7f7f", hatch=hatch, lw=0
  )


def setting_label(setting: Setting) -> str:
  """A short label of a setting's hyperparameters (``indian a=0.5 b=0.1 lr=0.1``)."""
  short = {"alpha": "a", "beta": "b", "learning_rate": "lr", "sigma": "s"}
  parts = (
    [str(setting.hyperparameters["optimizer"])] if "optimizer" in setting.hyperparameters else []
  )
  parts += [
    f"{short.get(k, k)}={v:g}" for k, v in setting.hyperparameters.items() if k != "optimizer"
  ]
  return " ".join(parts)


def curves(
  result: SweepResult,
  settings: Optional[Sequence[Setting]] = None,
  path: Optional[Union[pathlib.Path, BinaryIO]] = None,
  *,
  title: str = "",
  panels: Optional[Sequence[str]] = None,
  bands: bool = False,
) -> Figure:
  """Curves of per-epoch metrics (mean over seeds), one line per setting, one panel per metric.

  Epochs after a run diverged (or after halving stopped it) are left out.

  Args:
    result: the :class:`~indian_optax.app.SweepResult`.
    settings: the settings to draw (default: the 8 best).
    path: where to write a PNG, a path or a binary file (optional).
    title: the figure's title.
    panels: the histories to draw, e.g. ``("train_loss", "test_accuracy")``
      (default: the training loss and the validation accuracy, or the test
      accuracy when the sweep has no validation split).
    bands: shade the seeds' spread (minimum to maximum) around each mean.

  Returns:
    The figure.
  """
  settings = list(result.ranked_settings()[:8] if settings is None else settings)
  if panels is None:
    has_val = bool(np.any(np.isfinite(result.val_accuracy)))
    panels = ("train_loss", "val_accuracy" if has_val else "test_accuracy")
  fig = Figure(figsize=(5.5 * len(panels), 4.2))
  axes = np.atleast_1d(fig.subplots(1, len(panels)))
  epochs = np.arange(1, result.epochs + 1)
  for ax, panel in zip(axes, panels, strict=True):
    history = np.asarray(getattr(result, panel), dtype=float)
    for index, setting in enumerate(settings):
      label = setting_label(setting) + (" (diverged)" if setting.diverged else "")
      runs = getattr(result.where(**setting.hyperparameters), panel)
      color = f"C{index % 10}"
      ax.plot(epochs, np.mean(runs, axis=0), color=color, label=label)
      if bands and len(runs) > 1:
        ax.fill_between(epochs, np.min(runs, axis=0), np.max(runs, axis=0), color=color, alpha=0.2)
    shown = history[np.isfinite(history)]
    if panel.endswith("loss") and shown.size and np.all(shown > 0):  # a zero loss has no log
      ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(_PANEL_LABELS.get(panel, panel.replace("_", " ")))
  axes[-1].legend(fontsize=7, loc="best")
  fig.suptitle(title)
  fig.tight_layout()
  if path is not None:
    fig.savefig(path, dpi=110)
  return fig


_PANEL_LABELS = {
  "train_loss": "training loss (epoch mean)",
  "val_accuracy": "validation accuracy",
  "val_loss": "validation loss",
}


def trials(
  result: SweepResult,
  path: Optional[Union[pathlib.Path, BinaryIO]] = None,
  *,
  x: str = "alpha",
  y: str = "beta",
  title: str = "",
) -> Figure:
  """A tuning's trials at their (``x``, ``y``), coloured by their score (the mean over seeds of
  the selection metric; bright is good), the best one starred; diverged and pruned trials
  as grey crosses. Axes are logarithmic where every value is positive."""
  metric = f"final_{result.selection}"
  settings = result.settings()
  scored = [s for s in settings if s.trained_to_end and not s.diverged]
  others = [s for s in settings if s not in scored]
  fig = Figure(figsize=(6.4, 5))
  ax = fig.subplots()
  if others:
    ax.scatter([s.hyperparameters[x] for s in others], [s.hyperparameters[y] for s in others],
               marker="x", color="0.6", label="diverged or pruned")  # fmt: skip
  if scored:
    colours = "viridis" if higher_is_better(metric) else "viridis_r"
    points = ax.scatter(
      [s.hyperparameters[x] for s in scored], [s.hyperparameters[y] for s in scored],
      c=[s.mean[metric] for s in scored], cmap=colours,
    )  # fmt: skip
    fig.colorbar(points, ax=ax, label=metric.replace("_", " ") + " (mean over seeds)")
    best = result.ranked_settings()[0]
    ax.scatter([best.hyperparameters[x]], [best.hyperparameters[y]], marker="*", s=260,
               facecolor="none", edgecolor="red", label="best")  # fmt: skip
  for axis, name in ((ax.xaxis, x), (ax.yaxis, y)):
    if all(s.hyperparameters[name] > 0 for s in settings):
      (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
  ax.set_xlabel(x)
  ax.set_ylabel(y)
  ax.legend(fontsize=8, loc="best")
  ax.set_title(title or f"{len(settings)} trials")
  fig.tight_layout()
  if path is not None:
    fig.savefig(path, dpi=110)
  return fig


def trial_history(
  result: SweepResult, path: Optional[Union[pathlib.Path, BinaryIO]] = None, *, title: str = ""
) -> Figure:
  """Each finished trial's score against its trial number, and the best score so far."""
  metric = f"final_{result.selection}"
  maximise = higher_is_better(metric)
  settings = sorted(result.settings(), key=lambda s: s.hyperparameters.get("trial", 0))
  numbers = [s.hyperparameters.get("trial", i) for i, s in enumerate(settings)]
  scores = np.array([s.mean[metric] if s.trained_to_end else np.nan for s in settings])
  fig = Figure(figsize=(6.4, 4.2))
  ax = fig.subplots()
  ax.scatter(numbers, scores, s=14, label="trial")
  finite = np.where(np.isfinite(scores), scores, -np.inf if maximise else np.inf)
  best = np.maximum.accumulate(finite) if maximise else np.minimum.accumulate(finite)
  ax.step(numbers, np.where(np.isfinite(best), best, np.nan), where="post", color="C3",
          label="best so far")  # fmt: skip
  ax.set_xlabel("trial")
  ax.set_ylabel(metric.replace("_", " ") + " (mean over seeds)")
  ax.legend(fontsize=8, loc="best")
  ax.set_title(title)
  fig.tight_layout()
  if path is not None:
    fig.savefig(path, dpi=110)
  return fig

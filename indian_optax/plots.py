"""PNG plots of sweep and comparison results (matplotlib, no display needed)."""

import pathlib
from collections.abc import Sequence
from typing import Optional

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from indian_optax._sweep import SweepResult

# Figures are built with matplotlib's object API, not pyplot: writing a PNG needs no
# display and leaves the caller's backend (a notebook's inline one, say) untouched.


def grid_table(
  result: SweepResult, values: np.ndarray, rows: str, columns: str, *, maximise: bool
) -> tuple[list[float], list[float], np.ndarray]:
  """A rows x columns table of ``values``: mean over seeds, best over every other hyperparameter."""
  row_values = sorted({c[rows] for c in result.configs})
  column_values = sorted({c[columns] for c in result.configs})
  others = sorted({k for c in result.configs for k in c} - {rows, columns, "seed"})
  cells: dict[tuple, dict[tuple, list[float]]] = {}
  for config, value in zip(result.configs, values, strict=True):
    cell = (config[rows], config[columns])
    cells.setdefault(cell, {}).setdefault(tuple(config[k] for k in others), []).append(value)
  pick = np.nanmax if maximise else np.nanmin
  table = np.full((len(row_values), len(column_values)), np.nan)
  for (r, c), groups in cells.items():
    means = [np.mean(v) if np.all(np.isfinite(v)) else np.nan for v in groups.values()]
    if np.any(np.isfinite(means)):
      table[row_values.index(r), column_values.index(c)] = pick(means)
  return row_values, column_values, table


def heatmap(
  result: SweepResult,
  path: Optional[pathlib.Path] = None,
  *,
  metric: str = "final_test_accuracy",
  rows: str = "beta",
  columns: str = "alpha",
  title: str = "",
  ax: Optional[Axes] = None,
) -> Figure:
  """A heatmap of a final metric over two hyperparameters (diverged runs blank).

  Cells are the mean over seeds at the best value of every other hyperparameter.

  Args:
    result: a :class:`indian_optax.SweepResult`.
    path: where to write a PNG (optional).
    metric: ``final_test_accuracy`` or ``final_train_loss``.
    rows: the hyperparameter along the vertical axis.
    columns: the hyperparameter along the horizontal axis.
    title: the title (default: the metric).
    ax: matplotlib axes to draw on (e.g. from ``plt.subplots`` in a notebook);
      by default a new figure.

  Returns:
    The figure drawn on.
  """
  maximise = metric.endswith("accuracy")
  row_values, column_values, table = grid_table(
    result, getattr(result, metric), rows, columns, maximise=maximise
  )
  if ax is None:
    ax = Figure(figsize=(1.1 * len(column_values) + 2.5, 0.9 * len(row_values) + 1.8)).subplots()
  fig = ax.get_figure()
  # Bright colours mean good: high accuracy, low loss.
  cmap = "viridis" if maximise else "viridis_r"
  image = ax.imshow(np.ma.masked_invalid(table), cmap=cmap, origin="lower", aspect="auto")
  ax.set_xticks(range(len(column_values)), [f"{v:g}" for v in column_values])
  ax.set_yticks(range(len(row_values)), [f"{v:g}" for v in row_values])
  ax.set_xlabel(columns)
  ax.set_ylabel(rows)
  for (i, j), value in np.ndenumerate(table):
    text = "diverged" if not np.isfinite(value) else f"{value:.3f}" if maximise else f"{value:.3g}"
    # Dark text on the bright end of the colour map, light text elsewhere.
    shade = image.norm(value) if maximise else 1.0 - image.norm(value)
    bright = np.isfinite(value) and shade > 0.6
    ax.text(j, i, text, ha="center", va="center", color="k" if bright else "w", fontsize=8)
  fig.colorbar(image, ax=ax, label=metric.replace("_", " "))
  ax.set_title(title or metric.replace("_", " "))
  if path is not None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
  return fig


def curves(
  histories: Sequence[tuple[str, np.ndarray, np.ndarray]],
  path: Optional[pathlib.Path] = None,
  *,
  title: str = "",
) -> Figure:
  """Training-loss and test-accuracy curves, one line per ``(label, loss, accuracy)``.

  Written to ``path`` when given; the figure is returned.
  """
  fig = Figure(figsize=(11, 4.2))
  loss_ax, accuracy_ax = fig.subplots(1, 2)
  for label, loss, accuracy in histories:
    epochs = np.arange(1, len(loss) + 1)
    (line,) = loss_ax.plot(epochs, loss, label=label)
    accuracy_ax.plot(epochs, accuracy, color=line.get_color(), label=label)
  loss_ax.set_yscale("log")
  loss_ax.set_xlabel("epoch")
  loss_ax.set_ylabel("training loss (epoch mean)")
  accuracy_ax.set_xlabel("epoch")
  accuracy_ax.set_ylabel("test accuracy")
  accuracy_ax.legend(fontsize=7, loc="lower right")
  fig.suptitle(title)
  fig.tight_layout()
  if path is not None:
    fig.savefig(path, dpi=110)
  return fig

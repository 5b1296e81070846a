"""Plots read a SweepResult: one line per setting in each panel, seeds' range shaded on request."""

import numpy as np
from matplotlib.collections import PolyCollection

from indian_optax.app import SweepResult, plots


def two_settings_two_seeds() -> SweepResult:
  configs = [{"optimizer": name, "seed": seed} for name in ("a", "b") for seed in (0, 1)]
  epochs = np.arange(1, 4, dtype=float)
  rows = np.stack([1.0 / (epochs + shift) for shift in (0.0, 0.5, 1.0, 1.5)])
  return SweepResult(
    configs=configs,
    train_loss=rows,
    val_accuracy=np.full((4, 3), np.nan),
    test_accuracy=1 - rows,
    val_loss=2 * rows,
    final_train_loss=rows[:, -1],
    diverged_at=[None] * 4,
    selection="train_loss",
  )


def test_curves_draw_the_asked_panels_with_the_mean_over_seeds():
  result = two_settings_two_seeds()
  fig = plots.curves(result, result.settings(), panels=("train_loss", "val_loss", "test_accuracy"))
  axes = fig.axes
  assert [ax.get_ylabel() for ax in axes] == [
    "training loss (epoch mean)",
    "validation loss",
    "test accuracy",
  ]
  assert [ax.get_yscale() for ax in axes] == ["log", "log", "linear"]
  first = axes[1].get_lines()[0]
  np.testing.assert_allclose(first.get_ydata(), np.mean(result.val_loss[:2], axis=0))
  assert [len(ax.get_lines()) for ax in axes] == [2, 2, 2]
  assert not any(isinstance(c, PolyCollection) for ax in axes for c in ax.collections)


def test_bands_span_the_seeds_of_each_setting():
  result = two_settings_two_seeds()
  fig = plots.curves(result, result.settings(), panels=("train_loss",), bands=True)
  bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
  assert len(bands) == 2
  vertices = bands[0].get_paths()[0].vertices
  low, high = result.train_loss[1], result.train_loss[0]  # seed 1 is below seed 0
  assert np.isclose(vertices[:, 1].min(), low.min()) and np.isclose(
    vertices[:, 1].max(), high.max()
  )


def test_without_a_validation_split_the_default_accuracy_panel_is_the_test_accuracy():
  result = two_settings_two_seeds()
  fig = plots.curves(result)
  assert [ax.get_ylabel() for ax in fig.axes][1] == "test accuracy"

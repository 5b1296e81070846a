"""What a command shows: the summary it prints and the plots it draws, read from a SweepResult
and its metadata."""

import dataclasses

import numpy as np
from matplotlib.collections import PolyCollection

from indian_optax.app import Metadata, SweepResult, plots, report
from indian_optax.app.results import HalvingRecord


def two_settings_two_seeds() -> SweepResult:
  configs = [{"optimizer": name, "seed": seed} for name in ("a", "b") for seed in (0, 1)]
  epochs = np.arange(1, 4, dtype=float)
  rows = np.stack([1.0 / (epochs + shift) for shift in (0.0, 0.5, 1.0, 1.5)])
  return SweepResult(
    configs=configs,
    epochs=3,
    train_loss=rows,
    val_accuracy=np.full((4, 3), np.nan),
    test_accuracy=1 - rows,
    val_loss=2 * rows,
    test_loss=np.full((4, 3), np.nan),
    final_train_loss=rows[:, -1],
    diverged_at=[None] * 4,
    epochs_trained=np.full(4, 3),
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


def with_metadata(result, command="sweep", halving=None):
  meta = Metadata(command=command, dataset="digits", model="mlp", arguments=(command,),
                  options={}, halving=halving)  # fmt: skip
  return dataclasses.replace(result, metadata=meta)


def test_the_summary_names_the_work_the_rule_and_what_plus_minus_is(make_result):
  configs = [{"optimizer": "indian", "alpha": a, "seed": s} for a in (0.5, 2.0) for s in (0, 1)]
  result = with_metadata(make_result(configs, [0.8, 0.9, 0.5, 0.7], [0.2, 0.4, 1.0, 2.0]))
  text = report.summary(result, [])
  first = text.splitlines()[0]
  assert first.startswith("sweep on digits (mlp), 2 epochs; settings ranked by final val accuracy")
  assert "population standard deviation over the seeds" in first
  assert "0.8500 ± 0.0500" in text and "showing 2 of 2 settings" in text
  assert "chosen: optimizer=indian alpha=0.5" in text


def test_the_summary_of_a_halving_sweep_counts_the_epochs_trained(make_result):
  configs = [{"alpha": a, "seed": 0} for a in (0.5, 2.0, 3.0)]
  result = make_result(configs, [0.9, 0.5, 0.4], [0.2, 0.4, 0.5],
                       epochs_trained=np.array([2, 1, 1]))  # fmt: skip
  text = report.summary(with_metadata(result, halving=HalvingRecord(3.0, (1,))), [])
  assert "successive halving (eta 3, rungs after epochs [1]): 4 of 6 configuration-epochs" in text
  assert "epochs" in text.splitlines()[1]  # the table shows the epochs each setting trained


def test_compare_shows_each_optimizers_choice(make_result):
  configs = [{"optimizer": name, "learning_rate": lr, "seed": 0}
             for name in ("adam", "sgd") for lr in (0.01, 0.1)]  # fmt: skip
  result = with_metadata(make_result(configs, [0.5, 0.9, 0.4, 0.3], [1.0] * 4), command="compare")
  text = report.summary(result, [])
  assert "showing 2 of 2 optimizers' choices" in text
  assert list(report.figures(result)) == ["curves.png"]


def test_a_sweep_over_alpha_and_beta_draws_two_heatmaps_and_the_curves(make_result):
  configs = [{"alpha": a, "beta": b, "seed": 0} for a in (0.5, 1.0) for b in (0.1, 1.0)]
  result = with_metadata(make_result(configs, [0.5, 0.9, 0.4, 0.3], [1.0] * 4))
  assert list(report.figures(result)) == [
    "heatmap_val_accuracy.png", "heatmap_train_loss.png", "curves.png"
  ]  # fmt: skip

"""SweepResult, the one data model of runs: settings over seeds, the best-setting rule, files."""

import json
import math

import numpy as np
import pytest

from indian_optax.app import SweepResult


def result(configs, final_val, final_loss, diverged_at=None, selection="val_accuracy", **kw):
  """A result whose last epoch holds the given final validation accuracies and losses."""
  runs = len(configs)
  val = np.array([[0.1, v] for v in final_val], dtype=float)
  return SweepResult(
    configs=configs,
    train_loss=np.array([[2.0, v] for v in final_loss], dtype=float),
    val_accuracy=val,
    test_accuracy=np.where(np.isnan(val), np.nan, 0.5),
    final_train_loss=np.array(final_loss, dtype=float),
    diverged_at=diverged_at or [None] * runs,
    selection=selection,
    **kw,
  )


def seeds_of(*settings):
  return [dict(s, seed=seed) for s in settings for seed in (0, 1)]


def test_settings_group_the_seeds_and_report_mean_and_std():
  r = result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.8, 0.9, 0.5, 0.7], [0.2, 0.4, 1.0, 2.0])
  first, second = r.settings()
  assert first.hyperparameters == {"lr": 0.1} and first.runs == (0, 1) and first.seeds == (0, 1)
  assert first.mean["final_val_accuracy"] == pytest.approx(0.85)
  assert first.std["final_val_accuracy"] == pytest.approx(0.05)
  assert second.mean["final_train_loss"] == pytest.approx(1.5)


def test_the_best_setting_has_the_best_mean_over_seeds_not_the_best_single_run():
  # lr=1.0 holds the single best run (0.95), lr=0.1 the best mean.
  r = result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.9, 0.9, 0.95, 0.6], [0.3] * 4)
  assert r.best()["lr"] == 0.1 and r.best()["seeds"] == [0, 1]
  assert r.ranking()[0] == 2, "ranking() ranks runs on their own"


def test_a_setting_with_a_diverged_seed_ranks_after_every_finite_one():
  r = result(
    seeds_of({"lr": 10.0}, {"lr": 0.001}),
    [0.99, math.nan, 0.2, 0.2],
    [0.1, math.nan, 2.0, 2.0],
    diverged_at=[None, 3, None, None],
  )
  ranked = r.ranked_settings()
  assert [s.hyperparameters["lr"] for s in ranked] == [0.001, 10.0]
  assert ranked[1].diverged == 1 and math.isnan(ranked[1].mean["final_val_accuracy"])
  assert r.ranking()[-1] == 1


def test_train_loss_selection_prefers_the_lowest_mean_final_loss():
  r = result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.9] * 2 + [0.5] * 2, [0.5, 0.5, 0.1, 0.2],
             selection="train_loss")  # fmt: skip
  assert r.best()["lr"] == 1.0


def test_grid_edge_warnings_name_the_hyperparameter_and_the_way_to_extend():
  configs = [{"optimizer": "indian", "alpha": a, "lr": lr, "seed": 0}
             for a in (0.1, 0.5) for lr in (0.001, 0.01, 0.1)]  # fmt: skip
  val = [0.1, 0.2, 0.3, 0.4, 0.5, 0.9]  # best: alpha 0.5 (2 values: no warning), lr 0.1
  warnings = result(configs, val, [1.0] * 6).grid_edge_warnings()
  assert warnings == [
    "indian: the chosen lr=0.1 is the largest value tried (0.001 to 0.1): extend the grid above it"
  ]
  val = [0.1, 0.2, 0.3, 0.9, 0.5, 0.4]  # best: lr 0.001
  (warning,) = result(configs, val, [1.0] * 6).grid_edge_warnings()
  assert "lr=0.001 is the smallest" in warning and "below" in warning
  val = [0.1, 0.2, 0.3, 0.4, 0.9, 0.5]  # best: lr 0.01, interior
  assert result(configs, val, [1.0] * 6).grid_edge_warnings() == []


def test_each_optimizer_gets_its_own_choice_and_warnings():
  configs = [{"optimizer": name, "lr": lr, "seed": 0}
             for name in ("adam", "sgd") for lr in (0.01, 0.1, 1.0)]  # fmt: skip
  r = result(configs, [0.5, 0.9, 0.4, 0.3, 0.4, 0.8], [1.0] * 6)
  assert {name: c["lr"] for name, c in r.chosen().items()} == {"adam": 0.1, "sgd": 1.0}
  assert [s.hyperparameters["optimizer"] for s in r.chosen_settings()] == ["adam", "sgd"]
  assert r.grid_edge_warnings() == [
    "sgd: the chosen lr=1 is the largest value tried (0.01 to 1): extend the grid above it"
  ]


def test_save_and_load_round_trip(tmp_path):
  original = result(
    [
      {"optimizer": "indian", "alpha": 0.5, "seed": 0},
      {"optimizer": "indian", "alpha": 2.0, "seed": 0},
    ],
    [0.875, math.nan],
    [0.25, math.nan],
    diverged_at=[None, 2],
    info={"command": "sweep", "dataset": "digits", "epochs": 2},
    val_loss=np.array([[1.5, 0.75], [1.0, math.nan]]),
  )
  written = original.save(tmp_path)
  assert sorted(p.name for p in written) == ["results.csv", "results.json"]
  document = json.loads((tmp_path / "results.json").read_text())
  assert document["complete"] is True
  assert document["selection"] == {"metric": "val_accuracy", "split": "validation"}
  assert (
    document["runs"][1]["final_val_accuracy"] is None and document["runs"][1]["diverged_at"] == 2
  )
  assert document["runs"][0]["final_val_accuracy"] == 0.875
  loaded = SweepResult.load(tmp_path)
  assert loaded.configs == original.configs and loaded.diverged_at == [None, 2]
  for field in (
    "train_loss",
    "val_accuracy",
    "test_accuracy",
    "val_loss",
    "test_loss",
    "final_train_loss",
    "epochs_trained",
  ):
    np.testing.assert_array_equal(getattr(loaded, field), getattr(original, field))
  assert loaded.info == original.info and loaded.best() == original.best()
  csv_lines = (tmp_path / "results.csv").read_text().splitlines()
  assert csv_lines[0].startswith("optimizer,alpha,seed,diverged_at,epochs_trained")
  assert csv_lines[2].endswith(",2,2,,,,,")
  assert document["runs"][0]["final_val_loss"] == 0.75 and math.isnan(loaded.test_loss[0, 1])


def test_files_written_before_validation_losses_load_with_unknown_losses(tmp_path):
  original = result([{"alpha": 0.5, "seed": 0}], [0.875], [0.25])
  document = original.to_json()
  for run in document["runs"]:  # a version-2 file: no loss histories on held-out data
    del run["history"]["val_loss"], run["history"]["test_loss"]
  loaded = SweepResult.from_json(document | {"version": 2})
  assert loaded.val_loss.shape == (1, 2) and np.all(np.isnan(loaded.val_loss))
  np.testing.assert_array_equal(loaded.val_accuracy, original.val_accuracy)


def test_val_loss_selection_prefers_the_lowest_mean_final_validation_loss():
  configs = seeds_of({"alpha": 0.5}, {"alpha": 1.0})
  val_loss = np.array([[2.0, 0.9], [2.0, 0.7], [2.0, 0.6], [2.0, 0.8]])
  ranked = result(configs, [0.9, 0.9, 0.5, 0.5], [0.3] * 4, selection="val_loss", val_loss=val_loss)
  assert ranked.best()["alpha"] == 1.0 and ranked.best()["final_val_loss"] == pytest.approx(0.7)


def test_loading_something_else_says_what_is_wrong(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    SweepResult.load(tmp_path / "nothing")
  (tmp_path / "results.json").write_text('{"format": "other"}')
  with pytest.raises(ValueError, match="not a readable indian-optax results file"):
    SweepResult.load(tmp_path)


def test_a_setting_from_a_sub_result_carries_the_per_seed_numbers_of_the_whole():
  """Setting.runs index the result it came from; per_seed holds the numbers themselves."""
  configs = seeds_of({"lr": 0.1, "beta": 0.5}, {"lr": 1.0, "beta": 0.5}, {"lr": 1.0, "beta": 2.0})
  whole = result(configs, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
  sub = whole.where(beta=2.0)
  (setting,) = sub.settings()
  assert setting.runs == (0, 1)  # rows of the sub-result, not of the whole
  rows = [i for i, c in enumerate(whole.configs) if c["beta"] == 2.0]
  assert setting.per_seed["final_val_accuracy"] == tuple(whole.final_val_accuracy[rows])
  assert setting.per_seed["final_train_loss"] == (1.4, 1.5)
  assert setting.mean["final_val_accuracy"] == pytest.approx(
    np.mean(setting.per_seed["final_val_accuracy"])
  )

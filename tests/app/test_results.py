"""SweepResult, the one data model of runs: settings over seeds and the one ranking rule.

Each ranking test fails against one plausible slip: ranking by the median over seeds,
breaking ties towards the higher training loss, treating a NaN score as a score, letting a
setting with one diverged seed rank among the finite ones, a Setting whose seeds are sorted
while its numbers keep the runs' order.
"""

import dataclasses
import math

import numpy as np
import pytest

from indian_optax.app import Metadata, SweepResult, results


def seeds_of(*settings, seeds=(0, 1)):
  return [dict(s, seed=seed) for s in settings for seed in seeds]


def test_settings_group_the_seeds_and_report_mean_and_population_std(make_result):
  r = make_result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.8, 0.9, 0.5, 0.7], [0.2, 0.4, 1.0, 2.0])
  first, second = r.settings()
  assert first.hyperparameters == {"lr": 0.1} and first.seeds == (0, 1)
  assert first.mean["final_val_accuracy"] == pytest.approx(0.85)
  assert first.std["final_val_accuracy"] == pytest.approx(0.05)  # ddof = 0
  assert second.mean["final_train_loss"] == pytest.approx(1.5)
  assert first.epochs_trained == 2 and first.trained_to_end


def test_a_settings_seeds_and_numbers_stay_paired_in_the_runs_order(make_result):
  """Seeds 3, 1, 2 in that order: per_seed[m][i] is the run of seeds[i], and so is the mean."""
  configs = [{"lr": 0.1, "seed": s} for s in (3, 1, 2)]
  r = make_result(configs, [0.3, 0.1, 0.2], [3.0, 1.0, 2.0])
  (setting,) = r.settings()
  assert setting.seeds == (3, 1, 2)
  assert setting.per_seed["final_val_accuracy"] == (0.3, 0.1, 0.2)
  assert dict(zip(setting.seeds, setting.per_seed["final_train_loss"], strict=True)) == {
    1: 1.0, 2: 2.0, 3: 3.0
  }  # fmt: skip


def test_a_setting_carries_numbers_not_run_indices(make_result):
  """Taken from a sub-result, a setting holds its own numbers; its runs are found by value."""
  configs = seeds_of({"lr": 0.1, "beta": 0.5}, {"lr": 1.0, "beta": 0.5}, {"lr": 1.0, "beta": 2.0})
  whole = make_result(configs, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
  (setting,) = whole.where(beta=2.0).settings()
  assert not hasattr(setting, "runs")
  assert setting.per_seed["final_train_loss"] == (1.4, 1.5)
  runs = whole.where(**setting.hyperparameters)
  np.testing.assert_array_equal(runs.final_train_loss, [1.4, 1.5])
  assert setting.mean["final_val_accuracy"] == pytest.approx(np.mean([0.5, 0.6]))


def test_the_best_setting_has_the_best_mean_over_seeds_not_the_best_single_run(make_result):
  # lr=1.0 holds the single best run (0.95), lr=0.1 the best mean.
  r = make_result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.9, 0.9, 0.95, 0.6], [0.3] * 4)
  assert r.best()["lr"] == 0.1 and r.best()["seeds"] == [0, 1]
  assert r.ranking()[0] == 2, "ranking() ranks runs on their own"


def test_the_result_ranks_by_the_mean_over_three_seeds_not_the_median(make_result):
  r = make_result(seeds_of({"lr": 0.1}, {"lr": 1.0}, seeds=(0, 1, 2)),
                  [0.9, 0.9, 0.0, 0.7, 0.7, 0.7], [1.0] * 6)  # fmt: skip
  assert r.best()["lr"] == 1.0


def test_a_setting_with_a_diverged_seed_ranks_after_every_finite_one(make_result):
  r = make_result(
    seeds_of({"lr": 10.0}, {"lr": 0.001}),
    [0.99, math.nan, 0.2, 0.2],
    [0.1, math.nan, 2.0, 2.0],
    diverged_at=[None, 3, None, None],
  )
  ranked = r.ranked_settings()
  assert [s.hyperparameters["lr"] for s in ranked] == [0.001, 10.0]
  assert ranked[1].diverged == 1 and math.isnan(ranked[1].mean["final_val_accuracy"])
  assert r.ranking()[-1] == 1


def test_a_nan_score_without_diverged_at_never_becomes_the_best(make_result):
  r = make_result([{"lr": 0.1, "seed": 0}, {"lr": 1.0, "seed": 0}], [np.nan, 0.3], [0.1, 0.5])
  assert r.diverged_at == [None, None]
  assert r.best()["lr"] == 1.0 and r.ranking() == [1, 0]


def test_equal_scores_go_to_the_lower_training_loss(make_result):
  r = make_result([{"lr": 0.1, "seed": 0}, {"lr": 1.0, "seed": 0}], [0.8, 0.8], [0.5, 0.2])
  assert r.best()["lr"] == 1.0
  assert r.ranking() == [1, 0]


def test_a_setting_stopped_early_ranks_after_those_trained_to_the_end(make_result):
  r = make_result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.9, 0.9, 0.5, 0.5], [0.3] * 4,
                  epochs_trained=np.array([1, 1, 2, 2]))  # fmt: skip
  first, second = r.ranked_settings()
  assert first.hyperparameters == {"lr": 1.0} and not second.trained_to_end
  assert second.epochs_trained == 1


def test_train_and_val_loss_selections_prefer_the_lowest_mean(make_result):
  r = make_result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.9] * 2 + [0.5] * 2, [0.5, 0.5, 0.1, 0.2],
                  selection="train_loss")  # fmt: skip
  assert r.best()["lr"] == 1.0
  val_loss = np.array([[2.0, 0.9], [2.0, 0.7], [2.0, 0.6], [2.0, 0.8]])
  ranked = make_result(seeds_of({"alpha": 0.5}, {"alpha": 1.0}), [0.9, 0.9, 0.5, 0.5], [0.3] * 4,
                       selection="val_loss", val_loss=val_loss)  # fmt: skip
  assert ranked.best()["alpha"] == 1.0 and ranked.best()["final_val_loss"] == pytest.approx(0.7)


def test_each_settings_score_is_computed_once_however_many_settings(make_result, monkeypatch):
  """Ranking sorts on keys computed once per setting (n log n), not per comparison."""
  configs = [{"lr": float(i), "seed": 0} for i in range(200)]
  r = make_result(configs, list(np.linspace(0, 1, 200)), [1.0] * 200)
  calls = []
  scores = SweepResult.selection_scores
  monkeypatch.setattr(SweepResult, "selection_scores", lambda self: calls.append(1) or scores(self))
  assert r.ranked_settings()[0].hyperparameters["lr"] == 199.0
  assert r.ranking()[0] == 199
  assert len(calls) == 2


def test_rank_key_orders_by_stopped_then_diverged_then_score_then_training_loss():
  key = results.rank_key
  assert key([0.7], [1.0], False) < key([0.5], [0.1], False)  # the score first
  assert key([0.5], [0.1], False) < key([0.5], [0.2], False)  # then the training loss
  assert key([0.0], [9.0], False) < key([np.nan], [0.1], False)  # a NaN score: diverged
  assert key([0.1], [9.0], False) < key([0.9], [0.1], True)  # diverged after every finite
  assert key([0.9], [0.1], True) < key([0.9], [0.1], False, stopped=True)  # stopped last


@pytest.mark.parametrize(
  "metric, higher",
  [("val_accuracy", True), ("final_test_accuracy", True), ("train_loss", False),
   ("final_val_loss", False), ("test_loss", False)],
)  # fmt: skip
def test_each_metric_has_one_direction(metric, higher):
  assert results.higher_is_better(metric) is higher


def test_every_history_has_a_direction():
  assert set(results.HIGHER_IS_BETTER) == set(results.HISTORIES)


def test_grid_edge_warnings_name_the_hyperparameter_and_the_way_to_extend(make_result):
  configs = [{"optimizer": "indian", "alpha": a, "lr": lr, "seed": 0}
             for a in (0.1, 0.5) for lr in (0.001, 0.01, 0.1)]  # fmt: skip
  val = [0.1, 0.2, 0.3, 0.4, 0.5, 0.9]  # best: alpha 0.5 (2 values: no warning), lr 0.1
  assert make_result(configs, val, [1.0] * 6).grid_edge_warnings() == [
    "indian: the chosen lr=0.1 is the largest value tried (0.001 to 0.1): extend the grid above it"
  ]
  val = [0.1, 0.2, 0.3, 0.9, 0.5, 0.4]  # best: lr 0.001
  (warning,) = make_result(configs, val, [1.0] * 6).grid_edge_warnings()
  assert "lr=0.001 is the smallest" in warning and "below" in warning
  val = [0.1, 0.2, 0.3, 0.4, 0.9, 0.5]  # best: lr 0.01, interior
  assert make_result(configs, val, [1.0] * 6).grid_edge_warnings() == []


def test_each_optimizer_gets_its_own_choice_and_warnings(make_result):
  configs = [{"optimizer": name, "lr": lr, "seed": 0}
             for name in ("adam", "sgd") for lr in (0.01, 0.1, 1.0)]  # fmt: skip
  r = make_result(configs, [0.5, 0.9, 0.4, 0.3, 0.4, 0.8], [1.0] * 6)
  assert {name: c["lr"] for name, c in r.chosen().items()} == {"adam": 0.1, "sgd": 1.0}
  assert [s.hyperparameters["optimizer"] for s in r.chosen_settings()] == ["adam", "sgd"]
  assert r.grid_edge_warnings() == [
    "sgd: the chosen lr=1 is the largest value tried (0.01 to 1): extend the grid above it"
  ]


def test_where_take_and_concatenate_keep_rows_together(make_result):
  r = make_result(seeds_of({"lr": 0.1}, {"lr": 1.0}), [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0])
  picked = r.take([3, 0])
  assert picked.configs == [r.configs[3], r.configs[0]]
  np.testing.assert_array_equal(picked.final_train_loss, [4.0, 1.0])
  joined = SweepResult.concatenate([r.where(lr=1.0), r.where(lr=0.1)])
  assert joined.configs == r.configs[2:] + r.configs[:2]
  np.testing.assert_array_equal(joined.val_accuracy[:, -1], [0.3, 0.4, 0.1, 0.2])
  with pytest.raises(ValueError, match="different epochs"):
    SweepResult.concatenate([r, SweepResult.empty(epochs=3)])
  with pytest.raises(ValueError, match="no runs"):
    SweepResult.empty(epochs=2).best()


def test_a_tuned_value_at_the_edge_of_its_range_is_warned_about(make_result):
  """A tuning's ranges replace the values tried: the chosen value in the first or last
  twentieth of its range (on the log scale here) says which way to widen it."""
  configs = [{"trial": i, "alpha": a, "beta": 0.5, "seed": 0}
             for i, a in enumerate([0.011, 0.5, 2.0])]  # fmt: skip
  ranges = {"alpha": {"low": 0.01, "high": 10.0, "log": True}}
  meta = Metadata("tune", "digits", "mlp", (), {}, ranges=ranges)
  low = make_result(configs, [0.9, 0.8, 0.7], [0.1, 0.2, 0.3], metadata=meta)
  assert low.grid_edge_warnings() == [
    "the chosen alpha=0.011 lies at the bottom of its range 0.01:10: widen the range below it"
  ]
  inside = make_result(configs, [0.7, 0.9, 0.8], [0.1, 0.2, 0.3], metadata=meta)
  assert inside.grid_edge_warnings() == [], "0.5 is inside; beta (fixed) is no range"
  linear = dataclasses.replace(meta, ranges={"alpha": {"low": 0.0, "high": 2.1, "log": False}})
  top = make_result(configs, [0.7, 0.8, 0.9], [0.1, 0.2, 0.3], metadata=linear)
  assert top.grid_edge_warnings() == [
    "the chosen alpha=2 lies at the top of its range 0:2.1: widen the range above it"
  ]

"""One ranking rule (results.rank_key) for SweepResult and the halving rungs, and its details.

Each test here fails against one plausible slip in the rule: keeping int(n / eta) settings
at a rung, letting a setting with one diverged seed continue, ranking by the median over
seeds, breaking ties towards the higher training loss, treating a NaN score as a score,
writing results.json in place.
"""

import json

import numpy as np
import pytest
from test_results import result

from indian_optax.app import halving, results


def settings_of(values, seeds=1):
  """Configs of settings lr = values[i], each with ``seeds`` seeds, seeds varying fastest."""
  return [{"lr": v, "seed": s} for v in values for s in range(seeds)]


def survivors(scores, losses=None, diverged=None, seeds=1, eta=3.0):
  """The surviving settings' lr values after a rung (one score per run, higher better)."""
  runs = len(scores)
  configs = settings_of(range(runs // seeds), seeds)
  losses = np.ones(runs) if losses is None else np.asarray(losses, float)
  diverged = np.zeros((runs, 1), bool) if diverged is None else np.asarray(diverged)[:, None]
  kept = halving._survivors(configs, list(range(runs)), np.asarray(scores, float), losses,
                            diverged, eta)  # fmt: skip
  return sorted({configs[r]["lr"] for r in kept})


@pytest.mark.parametrize(
  "settings, eta, kept", [(10, 3.0, 4), (5, 2.0, 3), (7, 3.0, 3), (2, 3.0, 1)]
)
def test_a_rung_keeps_ceil_n_over_eta_settings(settings, eta, kept):
  assert len(survivors(np.arange(settings, dtype=float), eta=eta)) == kept


def test_a_rung_keeps_the_best_settings_by_their_mean_over_three_seeds_not_the_median():
  # lr 0: seeds 0.9, 0.9, 0.0 (median 0.9, mean 0.6); lr 1: 0.7 each (mean 0.7).
  assert survivors([0.9, 0.9, 0.0, 0.7, 0.7, 0.7], seeds=3, eta=2.0) == [1]


def test_a_setting_with_one_diverged_seed_of_several_stops_at_the_rung():
  scores = [0.99, 0.99, 0.5, 0.5, 0.1, 0.1]  # lr 0 is best on its scores, but seed 1 diverged
  diverged = [False, True, False, False, False, False]
  assert survivors(scores, diverged=diverged, seeds=2, eta=1.5) == [1, 2]
  assert survivors(scores, diverged=diverged, seeds=2, eta=1.01) == [1, 2]  # room for all three
  assert survivors([0.99, np.nan, 0.5, 0.5], seeds=2, eta=2.0) == [1]  # a NaN score too


def test_equal_scores_go_to_the_lower_training_loss_at_a_rung_and_in_the_result():
  assert survivors([0.8, 0.8, 0.8], losses=[0.5, 0.2, 0.9], eta=3.0) == [1]
  r = result([{"lr": 0.1, "seed": 0}, {"lr": 1.0, "seed": 0}], [0.8, 0.8], [0.5, 0.2])
  assert r.best()["lr"] == 1.0
  assert r.ranking() == [1, 0]


def test_the_result_ranks_by_the_mean_over_three_seeds():
  configs = settings_of([0.1, 1.0], seeds=3)
  r = result(configs, [0.9, 0.9, 0.0, 0.7, 0.7, 0.7], [1.0] * 6)
  assert r.best()["lr"] == 1.0


def test_a_nan_score_without_diverged_at_never_becomes_the_best():
  r = result([{"lr": 0.1, "seed": 0}, {"lr": 1.0, "seed": 0}], [np.nan, 0.3], [0.1, 0.5])
  assert r.diverged_at == [None, None]
  assert r.best()["lr"] == 1.0 and r.ranking() == [1, 0]


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


def test_results_json_is_replaced_whole_never_written_in_place(tmp_path, monkeypatch):
  """A failure while writing leaves the previous results.json as it was."""
  r = result([{"lr": 0.1, "seed": 0}], [0.8], [0.5])
  r.save(tmp_path)
  before = (tmp_path / "results.json").read_bytes()

  write_bytes = results.pathlib.Path.write_bytes

  def fail(self, content):
    if "results.json" not in self.name:
      return write_bytes(self, content)
    self.open("wb").write(content[: len(content) // 2])  # half a file, then the crash
    raise OSError("disk full")

  monkeypatch.setattr(results.pathlib.Path, "write_bytes", fail)
  with pytest.raises(OSError, match="disk full"):
    result([{"lr": 1.0, "seed": 0}], [0.9], [0.4]).save(tmp_path)
  assert (tmp_path / "results.json").read_bytes() == before
  assert json.loads(before)["runs"][0]["lr"] == 0.1


def test_every_history_has_a_direction_and_the_engine_records_them_by_name():
  assert set(results.HIGHER_IS_BETTER) == set(results.HISTORIES)
  assert results.HISTORIES == results.EpochRecord._fields

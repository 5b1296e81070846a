"""The benchmarks' shared rules (benchmarks/_common.py): learning-rate tuning that widens its
grid, and the one verdict rule, against textbook numbers."""

import math
import pathlib
import re

import numpy as np
import pytest
from benchmark_scripts import load

from indian_optax.app import SweepResult

_common = load("_common")


def one_epoch(configs, accuracy, loss, selection="val_accuracy"):
  """A one-epoch result with the given final accuracies (validation and test) and losses."""
  runs = len(configs)
  column = lambda values: np.asarray(values, float).reshape(runs, 1)
  return SweepResult(
    configs=configs, epochs=1, train_loss=column(loss), val_accuracy=column(accuracy),
    test_accuracy=column(accuracy), val_loss=np.full((runs, 1), np.nan),
    test_loss=np.full((runs, 1), np.nan), final_train_loss=np.asarray(loss, float),
    diverged_at=[None] * runs, epochs_trained=np.ones(runs, int), selection=selection,
  )  # fmt: skip


def fake_sweep(best_rate: float, calls: list):
  """Runs whose final training loss is smallest at ``best_rate`` (a parabola in log10 rate)."""

  def run(rates):
    calls.append(list(rates))
    loss = np.array([(math.log10(r) - math.log10(best_rate)) ** 2 + 1.0 for r in rates])
    return one_epoch([{"learning_rate": r, "seed": 0} for r in rates], np.full(len(rates), np.nan),
                     loss, selection="train_loss")  # fmt: skip

  return run


def test_tuning_widens_the_grid_until_the_chosen_rate_is_interior():
  common = load("_common")
  calls = []
  result, note = common.tune_learning_rate(fake_sweep(1.0, calls), [0.01, 0.0316, 0.1])
  assert calls[1:] == [[0.316], [1.0], [3.16]]  # half a decade each time, up to past the best
  assert result.ranked_settings()[0].hyperparameters["learning_rate"] == 1.0
  assert note == "interior (0.01 to 3.16, after widening 3 time(s))"
  calls = []
  _, note = common.tune_learning_rate(fake_sweep(0.01, calls), [0.001, 0.0316, 0.1])
  assert calls == [[0.001, 0.0316, 0.1]] and note == "interior (0.001 to 0.1)"


def test_tuning_says_which_end_it_still_sits_on_when_widening_runs_out():
  common = load("_common")
  calls = []
  _, note = common.tune_learning_rate(fake_sweep(1e-6, calls), [0.01, 0.1, 1.0], widen=2)
  assert calls[1:] == [[0.00316], [0.001]]
  assert note == "NOT interior: 0.001 is the smallest rate tried (0.001 to 1)"


# The one verdict rule (benchmarks/_common.paired). Expected values are textbook numbers:
# two-sided 95 % t critical values for 1, 2 and 4 degrees of freedom, and hand-computed
# intervals of small paired samples.


@pytest.mark.parametrize("n, critical", [(2, 12.706), (3, 4.303), (5, 2.776)])
def test_the_t_critical_value_has_n_minus_one_degrees_of_freedom(n, critical):
  assert load("_common").t_critical(n) == pytest.approx(critical, abs=1e-3)


def test_a_paired_difference_whose_interval_excludes_zero_is_a_win_on_accuracy_a_loss_on_loss():
  common = load("_common")
  a, b = {0: 0.90, 1: 0.86, 2: 0.84}, {0: 0.80, 1: 0.75, 2: 0.75}  # differences 0.10, 0.11, 0.09
  comparison = common.paired_values(a, b, "test_accuracy")
  # mean 0.1, sd 0.01, half-width 4.303 * 0.01 / sqrt(3) = 0.02484
  assert comparison.difference == pytest.approx(0.1)
  assert (comparison.low, comparison.high) == pytest.approx((0.07516, 0.12484), abs=1e-5)
  assert comparison.verdict == "win" and comparison.n == 3
  assert common.paired_values(a, b, "final_test_loss").verdict == "lose"
  assert common.paired_values(b, a, "final_test_loss").verdict == "win"


def test_an_interval_holding_zero_is_a_tie():
  common = load("_common")
  a, b = {0: 0.90, 1: 0.80, 2: 0.85}, {0: 0.80, 1: 0.75, 2: 0.80}  # differences 0.10, 0.05, 0.05
  comparison = common.paired_values(a, b, "test_accuracy")
  # mean 0.0667, sd 0.02887, half-width 4.303 * 0.02887 / sqrt(3) = 0.07172
  assert comparison.low == pytest.approx(-0.00505, abs=1e-5)
  assert comparison.verdict == "tie"


def test_identical_per_seed_values_give_the_interval_zero_zero_and_a_tie():
  """The rule's boundary: no difference at all is a tie, not a win or a loss by a hair."""
  common = load("_common")
  same = {0: 0.9, 1: 0.8, 2: 0.85}
  comparison = common.paired_values(same, dict(same), "test_accuracy")
  assert (comparison.difference, comparison.low, comparison.high) == (0.0, 0.0, 0.0)
  assert comparison.verdict == "tie"


def test_a_constant_nonzero_difference_is_resolved_by_any_number_of_seeds():
  """Differences without spread: the interval is the difference itself, which excludes 0."""
  common = load("_common")
  a, b = {0: 0.75, 1: 0.5}, {0: 0.5, 1: 0.25}  # exact in binary: both differences are 0.25
  comparison = common.paired_values(a, b, "test_accuracy")
  assert (comparison.low, comparison.high) == (0.25, 0.25) and comparison.verdict == "win"


def test_the_rule_pairs_values_by_seed_so_shared_seed_noise_cancels():
  """Seeds that differ a lot, one method steadily ahead: paired, a win (unpaired, a tie)."""
  common = load("_common")
  b = {0: 0.5, 1: 0.7, 2: 0.9}
  a = {2: 0.92, 0: 0.52, 1: 0.71}  # another order: values are matched by seed, not position
  comparison = common.paired_values(a, b, "val_accuracy")
  assert comparison.seeds == (2, 0, 1)
  assert comparison.difference == pytest.approx(0.05 / 3)
  assert comparison.verdict == "win"


def test_one_seed_or_a_diverged_run_gives_no_verdict():
  common = load("_common")
  assert common.paired_values({0: 0.9}, {0: 0.8}, "test_accuracy").verdict == "n/a"
  diverged = common.paired_values({0: 0.9, 1: math.nan}, {0: 0.8, 1: 0.7}, "test_accuracy")
  assert diverged.verdict == "n/a"
  assert "none" in common.rule(1) and "n = 5" in common.rule(5) and "2.78" in common.rule(5)


def test_settings_are_compared_on_their_own_per_seed_numbers():
  """Two optimizers' settings taken from one result: the rule reads each setting's seeds."""
  common = load("_common")
  accuracy = np.array([0.90, 0.86, 0.84, 0.80, 0.75, 0.75])
  configs = [{"optimizer": o, "learning_rate": 0.1, "seed": s} for o in "ab" for s in (0, 1, 2)]
  result = one_epoch(configs, accuracy, np.ones(6))
  a = result.where(optimizer="a").settings()[0]
  b = result.where(optimizer="b").settings()[0]
  comparison = common.paired(a, b, "final_test_accuracy")
  assert comparison.difference == pytest.approx(0.1) and comparison.verdict == "win"


def test_the_resolution_is_the_80_percent_power_difference_of_a_paired_t_test():
  """(t_.975 + t_.80) sd / sqrt(n): for 10 seeds and sd 1, (2.262 + 0.883) / sqrt(10) = 0.9946."""
  a = {s: float(v) for s, v in enumerate(np.random.default_rng(0).standard_normal(10))}
  b = dict.fromkeys(a, 0.0)
  comparison = _common.paired_values(a, b, "final_test_accuracy")
  sd = float(np.std(list(a.values()), ddof=1))
  assert _common.resolution(comparison) == pytest.approx(0.9946 * sd, rel=1e-3)


def test_chance_after_selection_is_five_percent_per_test_without_selection():
  """Against a fixed reference (a pool of one) each test comes out decided 5 % of the time."""
  expected = _common.chance_after_selection(1, 20, 5, rho=0.0, draws=20_000)
  assert expected == pytest.approx(20 * 0.05, abs=0.05)


def test_a_best_chosen_on_the_same_data_is_decided_against_more_often_than_chance():
  """25 equal settings, 3 seeds: the other 24 against the best of them exceed 24 x 5 %."""
  selected = _common.chance_after_selection(25, 0, 3, pool_tested=True, draws=5_000)
  assert selected > 1.5 * 24 * 0.05
  # Chosen on other data (correlation 0), the selection does not bias the comparisons.
  independent = _common.chance_after_selection(25, 0, 3, rho=0.0, pool_tested=True, draws=5_000)
  assert independent == pytest.approx(24 * 0.05, abs=0.15)


def test_per_seed_numbers_are_written_with_every_digit(tmp_path):
  rows = [{"setting": "a", "seed": 0, "final_test_accuracy": np.float32(0.1) + 0.0}]
  path = _common.write_seeds("table", rows, tmp_path)
  text = pathlib.Path(path).read_text().splitlines()
  assert text[0] == "setting,seed,final_test_accuracy"
  assert float(text[1].split(",")[2]) == float(np.float32(0.1))


def test_a_sections_first_line_names_its_commit_and_the_csv_beside_it(tmp_path):
  results = tmp_path / "RESULTS.md"
  _common.write_section("name", "body", results, seeds=[{"setting": "a", "seed": 1, "x": 1.0}])
  lines = results.read_text().splitlines()
  first, kept = lines[lines.index("<!-- name:start -->") + 1], lines[-4]
  assert re.search(r"at commit [0-9a-f]{7,} \((clean|with uncommitted changes)\)", first)
  assert "other processes" in first or "nothing else ran" in first
  assert kept == f"Per-seed numbers: `{tmp_path / 'results' / 'name.csv'}`."
  assert (tmp_path / "results" / "name.csv").exists()

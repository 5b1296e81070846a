"""Each benchmark script runs end to end in --quick mode (a smoke test: no timing is asserted)."""

import importlib.util
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from indian_optax.app import SweepResult

BENCHMARKS = pathlib.Path(__file__).parent.parent / "benchmarks"


def load(name):
  spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize(
  "name, section",
  [
    ("step_cost", "INDIAN / momentum"),
    ("sweep_throughput", "speed-up"),
    ("convergence", "final test accuracy"),
    ("halving", "config-epochs full / halving"),
    ("paper_protocol", "test accuracy at 3"),
    ("language_model", "final val loss"),
    ("innaprop_heatmap", "the best cell"),
  ],
)
def test_benchmark_runs_quick_and_writes_its_section(tmp_path, name, section):
  results = tmp_path / "RESULTS.md"
  load(name).main(["--quick", "--results", str(results)])
  text = results.read_text()
  sections = {
    "convergence": "convergence_digits_mlp",
    "paper_protocol": "paper_protocol_digits_mlp",
    "language_model": "language_model_cpu",
  }
  name = sections.get(name, name)
  assert f"<!-- {name}:start -->" in text and f"<!-- {name}:end -->" in text
  assert section in text and "Reproduce:" in text


def test_state_memory_runs_quick_on_eight_simulated_devices(tmp_path):
  """It sets up its 8 devices before importing JAX, so it runs in its own process."""
  results = tmp_path / "RESULTS.md"
  script = BENCHMARKS / "state_memory.py"
  run = subprocess.run(
    [sys.executable, str(script), "--quick", "--results", str(results)],
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert run.returncode == 0, run.stderr
  assert "per device, FSDP" in results.read_text()


def fake_sweep(best_rate: float, calls: list):
  """Runs whose final training loss is smallest at ``best_rate`` (a parabola in log10 rate)."""

  def run(rates):
    calls.append(list(rates))
    loss = np.array([(math.log10(r) - math.log10(best_rate)) ** 2 + 1.0 for r in rates])
    return SweepResult(
      configs=[{"learning_rate": r, "seed": 0} for r in rates],
      train_loss=loss[:, None],
      val_accuracy=np.full((len(rates), 1), np.nan),
      test_accuracy=np.full((len(rates), 1), np.nan),
      final_train_loss=loss,
      diverged_at=[None] * len(rates),
      selection="train_loss",
    )

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

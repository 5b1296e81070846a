"""Each benchmark script runs end to end in --quick mode (a smoke test: no timing is asserted)."""

import subprocess
import sys

import pytest
from benchmark_scripts import BENCHMARKS, load

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training


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
    ("low_precision", "stochastic rounding"),
    ("save_cost", "chunk saves"),
    ("app_epoch_cost", "region analysis: ms per epoch"),
    ("tuning", "against the grid (paired over repetitions)"),
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
    "tuning": "tuning_quality",
  }
  name = sections.get(name, name)
  assert f"<!-- {name}:start -->" in text and f"<!-- {name}:end -->" in text
  assert section in text and "Reproduce:" in text


@pytest.mark.parametrize(
  "name, section, text",
  [
    ("sweep_throughput", "sweep_throughput_accelerator", "vs the loop"),
    ("step_cost", "step_cost_accelerator", "Inside a jitted training loop"),
  ],
)
def test_the_accelerator_plan_runs_quick_here_and_writes_its_own_section(
  tmp_path, name, section, text
):
  """``--plan accelerator`` runs on any backend (sized for a GPU, smoke-tested small here)."""
  results = tmp_path / "RESULTS.md"
  load(name).main(["--quick", "--plan", "accelerator", "--results", str(results)])
  written = results.read_text()
  assert f"<!-- {section}:start -->" in written and text in written


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


def test_step_cost_reads_each_steps_passes_from_its_compiled_hlo(tmp_path):
  results = tmp_path / "RESULTS.md"
  load("step_cost").main(["--passes", "--results", str(results)])
  text = results.read_text()
  assert "<!-- step_cost_passes:start -->" in text and "| momentum | fusion" in text

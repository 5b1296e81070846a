"""Each benchmark script runs end to end in --quick mode (a smoke test: no timing is asserted)."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

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
  ],
)
def test_benchmark_runs_quick_and_writes_its_section(tmp_path, name, section):
  results = tmp_path / "RESULTS.md"
  load(name).main(["--quick", "--results", str(results)])
  text = results.read_text()
  name = "convergence_digits_mlp" if name == "convergence" else name
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

"""The optimizer state is sharded like the params (family 8), on 8 simulated CPU devices.

Each check runs in its own process: the device count is fixed when JAX starts.
"""

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training

SCRIPTS = sorted((pathlib.Path(__file__).parent / "multidevice").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_on_eight_simulated_devices(script):
  result = subprocess.run(
    [sys.executable, str(script)], capture_output=True, text=True, timeout=600
  )
  assert result.returncode == 0, result.stdout + result.stderr

"""The multi-host example: two processes (4 simulated devices each, gloo over loopback) train
exactly like one process with 8 devices. Nothing in the optimizer knows the difference."""

import os
import re
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training

EXAMPLE = [sys.executable, "-m", "indian_optax.examples.multihost", "--steps", "12"]


def final_loss(output):
  return float(re.findall(r"step\s+11\s+loss ([\d.]+)", output)[-1])


def environment(devices):
  return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


@pytest.mark.parametrize("optimizer", ["indian", "innaprop"])
def test_two_processes_train_like_one(optimizer):
  single = subprocess.run(
    [*EXAMPLE, "--optimizer", optimizer],
    env=environment(8),
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert single.returncode == 0, single.stderr
  assert "(1 processes, 8 devices)" in single.stdout

  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
  launch = [*EXAMPLE, "--optimizer", optimizer, "--coordinator", f"127.0.0.1:{port}"]
  processes = [
    subprocess.Popen(
      [*launch, "--num-processes", "2", "--process-id", str(rank)],
      env=environment(4),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for rank in (0, 1)
  ]
  outputs = [process.communicate(timeout=300) for process in processes]
  for process, (_, stderr) in zip(processes, outputs, strict=True):
    assert process.returncode == 0, stderr
  assert "(2 processes, 8 devices)" in outputs[0][0]
  assert final_loss(outputs[0][0]) == pytest.approx(final_loss(single.stdout), rel=1e-5)

"""The command interrupted at many moments, as a user's Ctrl-C or a scheduler's SIGTERM lands:
while importing, compiling, training, between chunks, drawing and saving. Whatever the moment:
exit status 130 (or 0 if it had finished), one line and no traceback, a folder whose
``results.json`` agrees with the files beside it, and a message whose advice works."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow  # a dozen subprocesses

# What a user's terminal gives the command (a shell that starts the suite in the background
# ignores SIGINT in its children): the default handler, set in the child.
AS_FROM_A_TERMINAL = (
  "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
  "runpy.run_module('indian_optax', run_name='__main__', alter_sys=True)"
)
SWEEP = ["sweep", "--epochs", "1", "--seeds", "2", "--chunk", "4"]
FRACTIONS = {
  signal.SIGINT: (0.02, 0.1, 0.25, 0.45, 0.65, 0.8, 0.9, 0.97),
  signal.SIGTERM: (0.05, 0.35, 0.7, 0.93),
}
"""When each interrupt lands, as a fraction of an uninterrupted run's wall time: starting
(Python, then the imports), compiling, training and saving chunks, drawing, the last save."""


def command(argv):
  return [sys.executable, "-c", AS_FROM_A_TERMINAL, *argv]


def assert_consistent(out):
  """results.json, where there is one, lists files that exist and the CSV holds its runs."""
  document = json.loads((out / "results.json").read_text())
  for name in document["files"]:
    assert (out / name).is_file(), f"{name} is listed but missing"
  rows = (out / "results.csv").read_text().splitlines()
  assert len(rows) == len(document["runs"]) + 1
  return document


@pytest.fixture(scope="module")
def env(tmp_path_factory):
  cache = tmp_path_factory.mktemp("compile-cache")
  return dict(os.environ, INDIAN_OPTAX_COMPILE_CACHE=str(cache))


@pytest.fixture(scope="module")
def wall_time(tmp_path_factory, env):
  """An uninterrupted run's wall time, its programs already in the compilation cache (the
  first run fills it) as they are for the interrupted runs."""
  for attempt in ("cold", "warm"):
    out = tmp_path_factory.mktemp(attempt) / "out"
    start = time.monotonic()
    done = subprocess.run(command([*SWEEP, "--out", str(out)]), env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
  return time.monotonic() - start


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_at_any_moment_keeps_the_folder_consistent_and_says_how_to_go_on(
  tmp_path, env, wall_time, stop
):
  for i, fraction in enumerate(FRACTIONS[stop]):
    out = tmp_path / f"at-{i}"
    process = subprocess.Popen(
      command([*SWEEP, "--out", str(out)]), env=env, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(fraction * wall_time)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=300)
    moment = f"{stop.name} at {fraction:.0%} of {wall_time:.1f} s: {stderr[-600:]}"
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, moment
    if process.returncode == 0:  # it had finished
      assert assert_consistent(out)["complete"] is True, moment
      continue
    assert process.returncode == 130, moment
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("indian-optax: interrupted"), moment
    if "--resume" in last:
      assert assert_consistent(out)["complete"] is False, moment
      resumed = subprocess.run(command(["sweep", "--resume", "--out", str(out)]), env=env,
                               capture_output=True, text=True)  # fmt: skip
      assert resumed.returncode == 0, resumed.stderr
      assert assert_consistent(out)["complete"] is True
    elif "indian-optax report" in last:
      assert assert_consistent(out)["complete"] is True, moment
      assert subprocess.run(command(["report", str(out)]), env=env).returncode == 0
      assert_consistent(out)
    else:
      assert last.endswith("nothing was saved") or "nothing was run" in last, moment
      assert not (out / "results.json").exists(), moment

"""Shared by the benchmark scripts: machine description, paired timing, RESULTS.md sections."""

import datetime
import os
import pathlib
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import jax

from indian_optax.app import data, models

RESULTS = pathlib.Path(__file__).parent / "RESULTS.md"


def sweep_inputs(dataset_name: str, model_name: str) -> dict:
  """``init_params``, ``apply_fn`` and ``data`` of an ``app.sweep`` of a built-in data set."""
  dataset = data.load(dataset_name)
  model = models.make_model(model_name, dataset.sample_shape, dataset.num_classes)
  arrays = (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
  return dict(init_params=model.init, apply_fn=model.apply, data=arrays)


def machine() -> str:
  """One line naming the machine the figures came from."""
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as info:
      names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
      cpu = names[0] if names else cpu
  except OSError:
    pass
  devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
  return (
    f"{cpu}, {os.cpu_count()} cores visible; JAX {jax.__version__} on {jax.default_backend()} "
    f"({devices}); Python {platform.python_version()}"
  )


def interleaved_medians(
  runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 2
) -> dict[str, float]:
  """Median seconds of each callable, timed in interleaved rounds A B C A B C ...

  Interleaving exposes every candidate to the same drift of the machine (other
  load, frequency changes), so ratios of medians are fair comparisons.
  """
  for _ in range(warmup):
    for run in runs.values():
      jax.block_until_ready(run())
  times: dict[str, list[float]] = {name: [] for name in runs}
  for _ in range(repeats):
    for name, run in runs.items():
      start = time.perf_counter()
      jax.block_until_ready(run())
      times[name].append(time.perf_counter() - start)
  return {name: statistics.median(values) for name, values in times.items()}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
  return "\n".join(lines)


def write_section(name: str, body: str, path: pathlib.Path = RESULTS) -> None:
  """Replaces (or appends) the section between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  command = "python " + " ".join(["benchmarks/" + pathlib.Path(sys.argv[0]).name, *sys.argv[1:]])
  block = (
    f"<!-- {name}:start -->\n"
    f"Measured {stamp} on: {machine()}.\n"
    f"Reproduce: `{command}`\n\n{body.strip()}\n<!-- {name}:end -->"
  )
  text = path.read_text() if path.exists() else "# Benchmark results\n"
  pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
  text = (
    pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + f"\n\n{block}\n"
  )
  path.write_text(text)

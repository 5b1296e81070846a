"""Shared by the benchmark scripts: machine, paired timing, the paired verdict rule, sections."""

import dataclasses
import datetime
import math
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np
import scipy.stats

from indian_optax.app import SweepResult, data, models
from indian_optax.app.results import Setting, higher_is_better

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
  flags = f"; XLA_FLAGS={os.environ['XLA_FLAGS']}" if os.environ.get("XLA_FLAGS") else ""
  return (
    f"{cpu}, {os.cpu_count()} cores visible; JAX {jax.__version__} on {jax.default_backend()} "
    f"({devices}); Python {platform.python_version()}{flags}"
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


def commit() -> str:
  """The commit the figures came from, and whether the tree had changes beside it."""
  root = pathlib.Path(__file__).parent.parent
  git = lambda *args: subprocess.run(
    ["git", *args], cwd=root, capture_output=True, text=True, check=False
  ).stdout.strip()
  head = git("rev-parse", "--short", "HEAD") or "unknown"
  return f"{head} ({'with uncommitted changes' if git('status', '--porcelain') else 'clean'})"


def write_section(name: str, body: str, path: pathlib.Path = RESULTS) -> None:
  """Replaces (or appends) the section between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  command = "python " + " ".join(["benchmarks/" + pathlib.Path(sys.argv[0]).name, *sys.argv[1:]])
  block = (
    f"<!-- {name}:start -->\n"
    f"Measured {stamp} at commit {commit()} on: {machine()}.\n"
    f"Reproduce: `{command}`\n\n{body.strip()}\n<!-- {name}:end -->"
  )
  text = path.read_text() if path.exists() else "# Benchmark results\n"
  pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
  text = (
    pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + f"\n\n{block}\n"
  )
  path.write_text(text)


CONFIDENCE = 0.95
"""The confidence of every verdict in RESULTS.md."""


@dataclasses.dataclass(frozen=True)
class Paired:
  """The paired comparison of two settings' final metric over the seeds they share.

  The methods of a benchmark share seeds (the same initialisation and data order),
  so the per-seed differences ``a - b`` are the sample: their mean, and its t interval
  with the t critical value for ``n - 1`` degrees of freedom at ``confidence``.

  Attributes:
    metric: the final metric compared (``final_test_accuracy`` ...).
    seeds: the shared seeds, in order.
    difference: mean over those seeds of ``a - b`` (NaN if a run diverged).
    low, high: the interval's ends (NaN with fewer than 2 seeds).
    confidence: its confidence.
    verdict: for ``a``: ``win`` or ``lose`` when the interval excludes 0 (on the
      metric's better side or not), ``tie`` when it holds 0, ``n/a`` without an
      interval (one seed, or a diverged run).
  """

  metric: str
  seeds: tuple[int, ...]
  difference: float
  low: float
  high: float
  confidence: float
  verdict: str

  @property
  def n(self) -> int:
    return len(self.seeds)

  def __str__(self) -> str:
    if math.isnan(self.low):
      return f"{self.difference:+.4f} ({self.verdict})"
    return f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}] {self.verdict}"


def paired(a: Setting, b: Setting, metric: str, *, confidence: float = CONFIDENCE) -> Paired:
  """Setting ``a`` against ``b`` on a final ``metric``: the one rule for every verdict."""
  per_seed = lambda s: dict(zip(s.seeds, s.per_seed[metric], strict=True))
  return paired_values(per_seed(a), per_seed(b), metric, confidence=confidence)


def paired_values(
  a: Mapping[int, float], b: Mapping[int, float], metric: str, *, confidence: float = CONFIDENCE
) -> Paired:
  """``a`` against ``b`` (seed -> value of ``metric``, whose name gives the better side)."""
  seeds = tuple(s for s in a if s in b)
  differences = np.array([a[s] - b[s] for s in seeds], dtype=float)
  difference = float(np.mean(differences)) if len(seeds) else math.nan
  if len(seeds) < 2 or not np.all(np.isfinite(differences)):
    return Paired(metric, seeds, difference, math.nan, math.nan, confidence, "n/a")
  half = t_critical(len(seeds), confidence) * np.std(differences, ddof=1) / math.sqrt(len(seeds))
  low, high = difference - half, difference + half
  better = 1 if higher_is_better(metric) else -1
  verdict = "tie" if low <= 0 <= high else ("win" if better * difference > 0 else "lose")
  return Paired(metric, seeds, difference, float(low), float(high), confidence, verdict)


SD_LABEL = "mean ± sample standard deviation over the seeds (ddof = 1)"
"""What every "±" in RESULTS.md is."""


def mean_sd(values: Sequence[float], fmt: str = ".4f") -> str:
  """``mean ± sd`` of per-seed values, sd the sample standard deviation (NaN for one value)."""
  values = np.asarray(values, dtype=float)
  sd = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
  return f"{np.mean(values):{fmt}} ± {sd:{fmt}}"


def chance(tests: int, confidence: float = CONFIDENCE) -> str:
  """The multiple-comparisons caveat of a table of ``tests`` paired verdicts."""
  expected = (1 - confidence) * tests
  return (
    f"Multiple comparisons: {tests} paired tests here, each at {confidence:.0%} and not "
    f"corrected; where nothing differs, about {expected:.1f} of them would come out win or "
    "lose by chance alone."
  )


def t_critical(n: int, confidence: float = CONFIDENCE) -> float:
  """The two-sided t critical value for ``n`` paired differences (``n - 1`` degrees of freedom)."""
  return float(scipy.stats.t.ppf((1 + confidence) / 2, n - 1))


def rule(n: int, confidence: float = CONFIDENCE) -> str:
  """The sentence every verdict in RESULTS.md comes with."""
  if n < 2:
    return f"Verdicts: none (n = {n} seed: a paired interval needs at least 2 shared seeds)."
  return (
    f"Verdicts: paired t interval of the per-seed difference over the n = {n} shared seeds, "
    f"{confidence:.0%} confidence (t critical value {t_critical(n, confidence):.2f} for "
    f"{n - 1} degrees of freedom); win or lose when the interval excludes 0, tie when it holds "
    "it; intervals are shown as mean difference [low, high]."
  )


def half_decades(low: int, high: int) -> list[float]:
  """``10 ** (k / 2)`` for k from ``low`` to ``high``, to 3 digits (1e-3, 3.16e-3, ...)."""
  return [float(f"{10 ** (k / 2):.3g}") for k in range(low, high + 1)]


def tune_learning_rate(
  run: Callable[[list[float]], SweepResult], learning_rates: Sequence[float], *, widen: int = 4
) -> tuple[SweepResult, str]:
  """Sweeps ``learning_rates``, widening the grid until the chosen one is interior.

  ``run(rates)`` sweeps the given learning rates (with anything else the method
  varies) and returns their runs. While the best setting (the sweep's own rule) sits
  on the smallest or largest rate tried, one more rate half a decade beyond that end
  is swept, at most ``widen`` times.

  Returns:
    All the runs, and one line saying whether the chosen rate is interior or which
    end it still sits on.
  """
  result = run(list(learning_rates))
  for attempt in range(widen + 1):
    chosen = result.ranked_settings()[0].hyperparameters["learning_rate"]
    tried = sorted({c["learning_rate"] for c in result.configs})
    if tried[0] < chosen < tried[-1]:
      widened = f", after widening {attempt} time(s)" if attempt else ""
      return result, f"interior ({tried[0]:g} to {tried[-1]:g}{widened})"
    if attempt == widen:
      break
    # The next point of the half-decade lattice beyond that end (products of rounded
    # values would drift: 0.316 * 3.16 is 0.999).
    lattice = round(2 * math.log10(chosen)) + (1 if chosen == tried[-1] else -1)
    result = SweepResult.concatenate([result, run(half_decades(lattice, lattice))])
  end = "largest" if chosen == tried[-1] else "smallest"
  return result, f"NOT interior: {chosen:g} is the {end} rate tried ({tried[0]:g} to {tried[-1]:g})"

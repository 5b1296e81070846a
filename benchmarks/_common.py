"""Shared by the benchmark scripts: machine, paired timing, the paired verdict rule, sections."""

import csv
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


def _commit() -> str:
  root = pathlib.Path(__file__).parent.parent
  git = lambda *args: subprocess.run(
    ["git", *args], cwd=root, capture_output=True, text=True, check=False
  ).stdout.strip()
  head = git("rev-parse", "--short", "HEAD") or "unknown"
  # The benchmarks' own outputs and the prose do not make the code unclean: only the
  # package and the scripts do.
  changed = git("status", "--porcelain", "--", "indian_optax", "benchmarks/*.py", "pyproject.toml")
  return f"{head} ({'with uncommitted changes' if changed else 'clean'})"


_COMMIT = _commit()


def commit() -> str:
  """The commit the script started at, and whether its code (the package, the benchmark
  scripts, pyproject.toml) differed from it: read once, at import, so a commit made while a
  long run goes on is not taken for the one it ran."""
  return _COMMIT


def _busy_seconds() -> tuple[float, float]:
  """(CPU seconds every process has spent, this process's own), from /proc (Linux).

  The machine's busy time counts processes that start and exit during a run too, which
  a walk over the live processes would miss.
  """
  tick = os.sysconf("SC_CLK_TCK")
  with open("/proc/stat") as handle:
    fields = [int(x) for x in handle.readline().split()[1:]]
  busy = sum(fields[:3]) + sum(fields[5:8])  # user, nice, system, irq, softirq, steal
  with open("/proc/self/stat") as handle:
    text = handle.read()
  mine = text[text.rindex(")") + 2 :].split()
  return busy / tick, (int(mine[11]) + int(mine[12])) / tick


_STARTED = (time.time(), _busy_seconds() if sys.platform == "linux" else (0.0, 0.0))


def others() -> str:
  """Whether anything else ran: the CPU time the rest of the machine spent since the start.

  A timing table is only as good as a quiet machine; an accuracy table does not depend
  on it, but its minutes do. Measured rather than asserted: the machine's busy time
  (/proc/stat) less this process's own, since this module was imported.
  """
  if sys.platform != "linux":
    return "other processes not measured (not Linux)"
  wall = time.time() - _STARTED[0]
  busy, mine = _busy_seconds()
  total = max(0.0, (busy - _STARTED[1][0]) - (mine - _STARTED[1][1]))
  ran = "nothing else ran" if total <= 0.05 * wall else "other processes ran"
  return f"{ran}: {total:.0f} CPU-s besides its own during its {wall / 60:.1f} min"


SEEDS_FOLDER = pathlib.Path(__file__).parent / "results"
"""Per-seed numbers of every table with seeds: ``results/<section>.csv``."""


def seed_rows(
  settings, label: Callable = lambda s: s.hyperparameters["optimizer"], *, with_gap: bool = False
) -> list[dict]:
  """One row per (setting, seed): its label, other hyperparameters and every final metric
  (and, ``with_gap``, the run's generalisation gap: ``gap``)."""
  rows = []
  for setting in settings:
    hyper = {k: v for k, v in setting.hyperparameters.items() if k != "optimizer"}
    shown = " ".join(
      f"{k}={v:g}" if isinstance(v, float | int) else f"{k}={v}" for k, v in hyper.items()
    )
    per_seed = dict(setting.per_seed, **({"gap": gap(setting)} if with_gap else {}))
    for i, seed in enumerate(setting.seeds):
      values = {metric: values[i] for metric, values in per_seed.items()}
      rows.append({"setting": label(setting), "hyperparameters": shown, "seed": seed, **values})
  return rows


def gap(setting: Setting) -> list[float]:
  """Each seed's generalisation gap: final test loss - final training loss of the same run."""
  test, train = setting.per_seed["final_test_loss"], setting.per_seed["final_train_loss"]
  return [a - b for a, b in zip(test, train, strict=True)]


def write_seeds(name: str, rows: Sequence[Mapping[str, object]], folder: pathlib.Path) -> str:
  """Writes ``rows`` (one per setting and seed) as ``<folder>/<name>.csv``; returns its name.

  Columns are the union of the rows' keys, in first-seen order; floats keep every digit
  (``repr``), so each interval of the table can be recomputed from the file.
  """
  columns = list(dict.fromkeys(key for row in rows for key in row))
  folder.mkdir(parents=True, exist_ok=True)
  path = folder / f"{name}.csv"
  exact = lambda v: repr(float(v)) if isinstance(v, (float, np.floating)) else v
  with open(path, "w", newline="") as handle:
    writer = csv.DictWriter(handle, columns)
    writer.writeheader()
    writer.writerows({k: exact(v) for k, v in row.items()} for row in rows)
  return f"benchmarks/results/{path.name}" if folder == SEEDS_FOLDER else str(path)


def write_section(
  name: str, body: str, path: pathlib.Path = RESULTS, seeds: Sequence[Mapping] = ()
) -> None:
  """Replaces (or appends) the section between ``<!-- name:start -->`` and ``<!-- name:end -->``.

  Its first line is the provenance: date, commit and whether the tree was clean, the
  machine, and whether anything else ran. ``seeds`` (rows of ``seed_rows``) are written
  as ``results/<name>.csv`` beside ``path`` and named in the section.
  """
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  command = "python " + " ".join(["benchmarks/" + pathlib.Path(sys.argv[0]).name, *sys.argv[1:]])
  kept = ""
  if seeds:
    kept = f"Per-seed numbers: `{write_seeds(name, seeds, path.parent / 'results')}`.\n"
  block = (
    f"<!-- {name}:start -->\n"
    f"Measured {stamp} at commit {commit()} on: {machine()}; {others()}.\n"
    f"Reproduce: `{command}`\n{kept}\n{body.strip()}\n<!-- {name}:end -->"
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


POWER = 0.8
"""The power at which ``resolution`` states the smallest difference a comparison resolves."""

RESOLUTION_LABEL = (
  "Resolves: the smallest true difference this comparison detects with 80 % power at its "
  "95 % confidence, (t critical + t at 80 %) x sd / sqrt(n) from the per-seed differences' "
  "sample sd; a tie with a smaller difference in mind says nothing."
)


def comparison_row(a: Setting, b: Setting, metric: str, label: str) -> list[str]:
  """A headline table's row: ``a - b`` on ``metric``, the smallest difference that comparison
  resolves, and the paired difference of the two settings' gaps (lower is better)."""
  difference = paired(a, b, metric)
  by_seed = lambda s: dict(zip(s.seeds, gap(s), strict=True))
  gaps = paired_values(by_seed(a), by_seed(b), "final_test_loss")
  return [label, str(difference), f"{resolution(difference):.4f}", str(gaps)]


def resolution(comparison: Paired, power: float = POWER) -> float:
  """The smallest true difference ``comparison`` detects with ``power`` (paired t, its n and sd)."""
  if math.isnan(comparison.low):
    return math.nan
  critical = t_critical(comparison.n, comparison.confidence)
  standard_error = (comparison.high - comparison.low) / 2 / critical
  return (critical + float(scipy.stats.t.ppf(power, comparison.n - 1))) * standard_error


SD_LABEL = "mean ± sample standard deviation over the seeds (ddof = 1)"
"""What every "±" in RESULTS.md is."""


def mean_sd(values: Sequence[float], fmt: str = ".4f") -> str:
  """``mean ± sd`` of per-seed values, sd the sample standard deviation (NaN for one value)."""
  values = np.asarray(values, dtype=float)
  sd = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
  return f"{np.mean(values):{fmt}} ± {sd:{fmt}}"


def chance(
  tests: int, confidence: float = CONFIDENCE, *, selected: int = 0, expected_selected: float = 0.0
) -> str:
  """The multiple-comparisons caveat of a table of ``tests`` distinct paired verdicts.

  ``selected`` of them compare with a reference chosen as the best of a pool; by chance
  alone they give ``expected_selected`` verdicts (``chance_after_selection``), the others
  ``1 - confidence`` each.
  """
  plain = (1 - confidence) * (tests - selected)
  text = (
    f"Multiple comparisons: {tests} distinct paired tests here, each at {confidence:.0%} and "
    f"not corrected; where nothing differs, about {plain + expected_selected:.1f} of them "
    "would come out win or lose by chance alone"
  )
  if selected:
    text += (
      f" ({plain:.2f} from the {tests - selected} tests against a fixed reference, "
      f"{expected_selected:.2f} from the {selected} against a reference chosen as the best of "
      "its pool, simulated by `_common.chance_after_selection`)"
    )
  return text + "."


def residual_correlation(settings, a: str, b: str) -> float:
  """Pearson correlation of metrics ``a`` and ``b`` over every run, each setting's mean removed."""
  x = np.concatenate([np.subtract(s.per_seed[a], np.mean(s.per_seed[a])) for s in settings])
  y = np.concatenate([np.subtract(s.per_seed[b], np.mean(s.per_seed[b])) for s in settings])
  return float(np.corrcoef(x, y)[0, 1])


def chance_after_selection(
  pool: int,
  outsiders: int,
  n: int,
  *,
  rho: float = 1.0,
  pool_tested: bool = False,
  confidence: float = CONFIDENCE,
  draws: int = 20_000,
  seed: int = 0,
) -> float:
  """Expected verdicts by chance alone when the reference was chosen as the best of a pool.

  Under the null every setting has the same expected score; per seed, each setting's
  selection score and compared score are standard normal with correlation ``rho`` (1: the
  same data chose and compared; a seed's shared effect cancels in paired differences, so
  the scale does not matter). The setting of best mean selection score among ``pool`` is
  the reference; each of ``outsiders`` (and, with ``pool_tested``, each other pool member)
  is compared with it by the paired rule over ``n`` seeds. Returns the mean number of win
  or lose verdicts over ``draws`` simulated experiments: with selection on the same data
  it exceeds ``(1 - confidence) x tests``, since the reference is the luckiest of its pool.
  """
  rng = np.random.default_rng(seed)
  count = pool + outsiders
  chosen_by = rng.standard_normal((draws, count, n))
  compared = rho * chosen_by + math.sqrt(max(0.0, 1 - rho**2)) * rng.standard_normal(
    chosen_by.shape
  )
  best = np.argmax(chosen_by[:, :pool].mean(axis=2), axis=1)
  reference = compared[np.arange(draws), best][:, None, :]
  differences = compared - reference
  tested = np.zeros((draws, count), dtype=bool)
  tested[:, pool:] = True
  if pool_tested:  # the best against itself differs by 0 and is never decided
    tested[:, :pool] = True
  mean = differences.mean(axis=2)
  sd = differences.std(axis=2, ddof=1)
  with np.errstate(divide="ignore", invalid="ignore"):
    decided = np.abs(mean) > t_critical(n, confidence) * sd / math.sqrt(n)
  return float((decided & tested).sum(axis=1).mean())


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

"""The one data model of a sweep's runs: :class:`SweepResult`, its settings and its ranking.

The sweep engine returns a :class:`SweepResult`; the command line, the plots and the
benchmarks read it. The rule for "the best setting" lives here only: each setting's score
is computed once, and ranking sorts on it. Its files, ``results.json`` and ``results.csv``
(``result.save(folder)``, ``SweepResult.load(folder)``), are written here through
:mod:`indian_optax.app.results_files`' atomic writer; a file of a format version this
package does not know is refused with a message saying why.
"""

import csv
import dataclasses
import io
import json
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from indian_optax.app.results_files import DAMAGED, RESULTS_CSV, RESULTS_JSON, write_atomically

HIGHER_IS_BETTER: dict[str, bool] = {
  "train_loss": False,
  "val_accuracy": True,
  "test_accuracy": True,
  "val_loss": False,
  "test_loss": False,
}
"""Metric (a history, or ``final_`` + a history) -> whether higher is better: the one table."""


LABELS = ("seed", "optimizer", "trial")
"""Config keys that label a run rather than set a hyperparameter (``trial``: a tuning's)."""


def higher_is_better(metric: str) -> bool:
  """The direction of ``metric`` (``val_accuracy``, ``final_train_loss`` ...) from the table."""
  return HIGHER_IS_BETTER[metric.removeprefix("final_")]


_SELECTION_SPLITS = {"val_accuracy": "validation", "train_loss": "train", "val_loss": "validation"}
SELECTIONS: dict[str, tuple[str, bool]] = {
  name: (split, HIGHER_IS_BETTER[name]) for name, split in _SELECTION_SPLITS.items()
}
"""Selection metric -> (the split it reads, whether higher is better)."""


def rank_key(
  scores: np.ndarray, train_losses: np.ndarray, diverged: bool, stopped: bool = False
) -> tuple:
  """The one ranking rule, for a setting's seeds: smaller keys rank first.

  Trained to the end first, then no diverged seed (a NaN score counts as diverged),
  then the higher mean score (signed so that higher is better), then the lower mean
  training loss; equal keys keep their order. :class:`SweepResult` and the halving rungs
  rank with it.
  """
  scores, train_losses = np.asarray(scores, float), np.asarray(train_losses, float)
  diverged = bool(diverged) or not np.all(np.isfinite(scores))
  score = -float(np.mean(scores)) if not diverged else math.inf
  loss = float(np.mean(train_losses)) if np.all(np.isfinite(train_losses)) else math.inf
  return (bool(stopped), diverged, score, loss)


FINAL_METRICS = (
  "final_train_loss",
  "final_val_accuracy",
  "final_test_accuracy",
  "final_val_loss",
  "final_test_loss",
)


class EpochRecord(NamedTuple):
  """One epoch's metrics, by name: what the engine returns and SweepResult keeps per epoch."""

  train_loss: Any  # the mean minibatch loss of the epoch
  val_accuracy: Any
  test_accuracy: Any
  val_loss: Any
  test_loss: Any


HISTORIES: tuple[str, ...] = EpochRecord._fields
"""The per-epoch ``[runs, epochs]`` fields of a SweepResult: :class:`EpochRecord`'s names."""


@dataclasses.dataclass(frozen=True)
class Setting:
  """One setting of a sweep: its hyperparameters and the final metrics of its seeds.

  It holds numbers, not run indices: ``result.where(**setting.hyperparameters)`` gives its
  runs in whatever result holds them.

  Attributes:
    hyperparameters: the config without the seed (with ``optimizer`` if named).
    seeds: its seeds, in the order of its runs.
    per_seed: each final metric's values, ``per_seed[m][i]`` the run of ``seeds[i]``.
    mean: mean over the seeds of each final metric (NaN if any seed diverged).
    std: population standard deviation over the seeds of each final metric (``ddof=0``: 0
      for one seed).
    diverged: how many of its runs diverged.
    epochs_trained: the fewest epochs any of its runs trained.
    trained_to_end: whether every run trained for all the epochs.
    rank_key: its key under :func:`rank_key` (smaller ranks first), computed once.
  """

  hyperparameters: dict[str, Any]
  seeds: tuple[int, ...]
  per_seed: dict[str, tuple[float, ...]]
  mean: dict[str, float]
  std: dict[str, float]
  diverged: int
  epochs_trained: int
  trained_to_end: bool
  rank_key: tuple = dataclasses.field(repr=False, compare=False)

  def summary(self) -> dict[str, Any]:
    """The setting as one flat dict: hyperparameters, seeds, mean final metrics, diverged runs."""
    means = {k: json_number(v) for k, v in self.mean.items()}
    return dict(self.hyperparameters, seeds=list(self.seeds), diverged=self.diverged, **means)


class HalvingRecord(NamedTuple):
  """A successive-halving sweep's schedule: keep the best ``1/eta`` after each rung."""

  eta: float
  rungs: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Metadata:
  """What the ``indian-optax`` command records about the result set it wrote.

  Attributes:
    command: ``sweep``, ``compare``, ``train`` or ``tune``.
    dataset, model: what was trained (a data set's name or file, ``mlp`` or ``cnn``).
    arguments: the command line as given.
    options: every recorded option's value (``Plan.record()``: what ``--resume`` compares).
    halving: the halving schedule, None for a full sweep.
    files: the files of the result set (``results.json`` first).
    ranges: a tuning's search ranges, hyperparameter -> ``{"low", "high", "log"}`` (None for
      a sweep): an edge warning is then about the range, not the values tried.
  """

  command: str
  dataset: str
  model: str
  arguments: tuple[str, ...]
  options: Mapping[str, Any]
  halving: Optional[HalvingRecord] = None
  files: tuple[str, ...] = ()
  ranges: Optional[Mapping[str, Mapping[str, Any]]] = None


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """The outcome of :func:`indian_optax.app.sweep`: one row per run (grid point x seed).

  Metrics are NaN from the epoch a run diverged on (see ``diverged_at``), never a
  chance-level number, and absent (NaN) after the last epoch it trained.

  Attributes:
    configs: one dict per run: the grid's hyperparameters, the ``seed`` (and the
      ``optimizer`` when the sweep was named).
    epochs: the epochs the sweep was planned for (every history's length).
    train_loss: ``[runs, epochs]`` mean minibatch loss of each epoch.
    val_accuracy, test_accuracy: ``[runs, epochs]`` accuracy after each epoch on the
      validation split (NaN without one) and on the test split (reported, never read to
      choose).
    val_loss, test_loss: ``[runs, epochs]`` mean loss on the validation and the test set
      after each epoch.
    final_train_loss: ``[runs]`` loss on the whole training set after training.
    diverged_at: ``[runs]`` the first epoch (counted from 1) after which the
      training loss or any param was non-finite, or None.
    epochs_trained: ``[runs]`` epochs each run trained.
    selection: what ranks runs: ``"val_accuracy"``, ``"val_loss"`` or ``"train_loss"``
      (the final loss on the whole training set).
    devices: how many devices the configuration axis was spread over.
    complete: False while a sweep is still running (a partial result on disk).
    metadata: what the command that ran it recorded (None for a library sweep).
  """

  configs: list[dict[str, Any]]
  epochs: int
  train_loss: np.ndarray
  val_accuracy: np.ndarray
  test_accuracy: np.ndarray
  val_loss: np.ndarray
  test_loss: np.ndarray
  final_train_loss: np.ndarray
  diverged_at: list[Optional[int]]
  epochs_trained: np.ndarray
  selection: str = "val_accuracy"
  devices: int = 1
  complete: bool = True
  metadata: Optional[Metadata] = None

  def __post_init__(self) -> None:
    if self.selection not in SELECTIONS:
      raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
    runs = len(self.configs)
    sizes = {len(self.diverged_at), len(self.epochs_trained), len(self.final_train_loss)}
    shapes = {np.shape(getattr(self, h)) for h in HISTORIES}
    if sizes != {runs} or shapes != {(runs, self.epochs)}:
      raise ValueError(
        f"SweepResult: every field needs one row per run ({runs}) and histories of "
        f"{self.epochs} epochs"
      )

  @classmethod
  def empty(cls, epochs: int, selection: str = "val_accuracy") -> "SweepResult":
    """A result without runs (yet)."""
    nothing = np.zeros((0, epochs))
    histories: dict[str, Any] = {h: nothing for h in HISTORIES}
    return cls([], epochs, **histories, final_train_loss=np.zeros(0), diverged_at=[],
               epochs_trained=np.zeros(0, int), selection=selection)  # fmt: skip

  # Per-run views ------------------------------------------------------------

  @property
  def final_val_accuracy(self) -> np.ndarray:
    """``[runs]`` validation accuracy after each run's last trained epoch."""
    return self._at_last_epoch(self.val_accuracy)

  @property
  def final_test_accuracy(self) -> np.ndarray:
    """``[runs]`` test accuracy after each run's last trained epoch."""
    return self._at_last_epoch(self.test_accuracy)

  @property
  def final_val_loss(self) -> np.ndarray:
    """``[runs]`` validation loss after each run's last trained epoch."""
    return self._at_last_epoch(self.val_loss)

  @property
  def final_test_loss(self) -> np.ndarray:
    """``[runs]`` test loss after each run's last trained epoch."""
    return self._at_last_epoch(self.test_loss)

  def _at_last_epoch(self, history: np.ndarray) -> np.ndarray:
    if not self.configs:
      return np.zeros(0)
    last = np.maximum(np.asarray(self.epochs_trained, dtype=int) - 1, 0)
    return np.asarray(history)[np.arange(len(self.configs)), last]

  @property
  def hyperparameter_names(self) -> list[str]:
    """The names in the configs other than the :data:`LABELS`, in order of appearance."""
    names = dict.fromkeys(k for c in self.configs for k in c)
    return [k for k in names if k not in LABELS]

  def selection_scores(self) -> np.ndarray:
    """``[runs]`` the selection metric, signed so that higher is better (NaN if diverged)."""
    values = np.asarray(getattr(self, f"final_{self.selection}"), dtype=float)
    return values if higher_is_better(self.selection) else -values

  @property
  def optimizers(self) -> list[Optional[str]]:
    """The optimizer names in the configs, in order of appearance ([None] if unnamed)."""
    return list(dict.fromkeys(c.get("optimizer") for c in self.configs))

  # Settings and the one rule for "best" -------------------------------------

  def settings(self) -> list[Setting]:
    """The settings (configs without the seed), in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(self.configs):
      key = tuple((k, v) for k, v in config.items() if k != "seed")
      groups.setdefault(key, []).append(i)
    finals = {m: np.asarray(getattr(self, m), dtype=float) for m in FINAL_METRICS}
    scores, trained = self.selection_scores(), np.asarray(self.epochs_trained, dtype=int)
    diverged = np.array([d is not None for d in self.diverged_at], dtype=bool)
    settings = []
    for key, rows in groups.items():
      values = {m: v[rows] for m, v in finals.items()}
      settings.append(
        Setting(
          hyperparameters=dict(key),
          seeds=tuple(int(self.configs[i].get("seed", 0)) for i in rows),
          per_seed={m: tuple(float(x) for x in v) for m, v in values.items()},
          mean={m: float(np.mean(v)) for m, v in values.items()},
          std={m: float(np.std(v)) for m, v in values.items()},
          diverged=int(diverged[rows].sum()),
          epochs_trained=int(trained[rows].min()),
          trained_to_end=bool(trained[rows].min() >= self.epochs),
          rank_key=rank_key(scores[rows], values["final_train_loss"], bool(diverged[rows].any()),
                            stopped=bool(trained[rows].min() < self.epochs)),
        )
      )  # fmt: skip
    return settings

  def ranked_settings(self) -> list[Setting]:
    """The settings best first, by the mean over seeds of the selection metric.

    A setting any of whose seeds diverged ranks after every finite one, and a setting not
    trained to the end after those. Ties go to the lower mean final training loss, then to
    the earlier setting.
    """
    return sorted(self.settings(), key=lambda s: s.rank_key)

  def ranking(self) -> list[int]:
    """Run indices best first, each run on its own, by the same rule as :meth:`ranked_settings`."""
    scores, losses = self.selection_scores(), np.asarray(self.final_train_loss, dtype=float)
    stopped = np.asarray(self.epochs_trained, dtype=int) < self.epochs
    keys = [
      rank_key(scores[i : i + 1], losses[i : i + 1], d is not None, bool(stopped[i]))
      for i, d in enumerate(self.diverged_at)
    ]
    return sorted(range(len(self.configs)), key=keys.__getitem__)

  def best(self) -> dict[str, Any]:
    """The best setting (see :meth:`ranked_settings`) as a flat dict (:meth:`Setting.summary`)."""
    if not self.configs:
      raise ValueError("SweepResult.best: the result holds no runs")
    return self.ranked_settings()[0].summary()

  def chosen_settings(self) -> list[Setting]:
    """Each optimizer's best setting (the best of its own runs), best first."""
    chosen: dict[Optional[str], Setting] = {}
    for setting in self.ranked_settings():
      chosen.setdefault(setting.hyperparameters.get("optimizer"), setting)
    return list(chosen.values())

  def chosen(self) -> dict[str, dict[str, Any]]:
    """Each named optimizer's best setting as a flat dict (:meth:`Setting.summary`)."""
    return {
      s.hyperparameters["optimizer"]: s.summary()
      for s in self.chosen_settings()
      if "optimizer" in s.hyperparameters
    }

  def grid_edge_warnings(self) -> list[str]:
    """One line for each swept hyperparameter whose chosen value is the grid's smallest or largest.

    Checked for each optimizer's best setting, for hyperparameters with at least
    3 values tried; the line says which way to extend the grid. A tuning's hyperparameter
    (a range in :attr:`Metadata.ranges`) is checked against its range instead: the chosen
    value in the range's first or last twentieth (on its scale) says which way to widen it.
    """
    ranges = (self.metadata.ranges if self.metadata is not None else None) or {}
    warnings = []
    for name in self.optimizers:
      runs = self.where(optimizer=name) if name else self
      best = runs.ranked_settings()[0]
      if best.diverged or not np.isfinite(best.mean["final_train_loss"]):
        continue
      prefix = f"{name}: " if name else ""
      for hp in runs.hyperparameter_names:
        value = best.hyperparameters.get(hp)
        if hp in ranges and value is not None:
          warnings += _range_edge(prefix, hp, value, ranges[hp])
          continue
        tried = sorted({c[hp] for c in runs.configs if hp in c})
        if len(tried) < 3 or value not in (tried[0], tried[-1]):
          continue
        end, way = ("smallest", "below") if value == tried[0] else ("largest", "above")
        warnings.append(
          f"{prefix}the chosen {hp}={value:g} is the {end} value tried "
          f"({tried[0]:g} to {tried[-1]:g}): extend the grid {way} it"
        )
    return warnings

  # Selecting and joining runs ------------------------------------------------

  def where(self, **values: Any) -> "SweepResult":
    """The runs whose config has all the given values (e.g. ``where(optimizer="adam")``)."""
    rows = [i for i, c in enumerate(self.configs) if all(c.get(k) == v for k, v in values.items())]
    return self.take(rows)

  def take(self, rows: Sequence[int]) -> "SweepResult":
    """The given runs, in the given order."""
    rows = list(rows)
    pick = lambda a: np.asarray(a)[rows] if rows else np.asarray(a)[:0]
    histories: dict[str, Any] = {h: pick(getattr(self, h)) for h in HISTORIES}
    return dataclasses.replace(
      self,
      configs=[self.configs[i] for i in rows],
      **histories,
      final_train_loss=pick(self.final_train_loss),
      diverged_at=[self.diverged_at[i] for i in rows],
      epochs_trained=pick(self.epochs_trained),
    )

  @classmethod
  def concatenate(cls, results: Sequence["SweepResult"]) -> "SweepResult":
    """The runs of several results (same epochs and selection), in order."""
    if not results:
      raise ValueError("SweepResult.concatenate: no results")
    first = results[0]
    if any(r.epochs != first.epochs for r in results):
      raise ValueError("SweepResult.concatenate: the results have different epochs")
    stack = lambda field: np.concatenate([np.asarray(getattr(r, field)) for r in results])
    histories: dict[str, Any] = {h: stack(h) for h in HISTORIES}
    return dataclasses.replace(
      first,
      configs=[c for r in results for c in r.configs],
      **histories,
      final_train_loss=stack("final_train_loss"),
      diverged_at=[d for r in results for d in r.diverged_at],
      epochs_trained=stack("epochs_trained"),
      devices=max(r.devices for r in results),
      complete=all(r.complete for r in results),
    )

  # Files (indian_optax.app.results_files) ------------------------------------

  def save(self, folder: Union[str, os.PathLike]) -> list[pathlib.Path]:
    """Writes ``results.csv`` then ``results.json`` into ``folder``, each atomically."""
    return save(self, folder)

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "SweepResult":
    """Loads a result saved by :meth:`save`, from its folder or its ``results.json``.

    Raises:
      ValueError: no readable results file at ``path``, or one of an unknown version.
    """
    return load(path)


def _range_edge(prefix: str, name: str, value: float, searched: Mapping[str, Any]) -> list[str]:
  """The warning for a chosen value in the first or last twentieth of its search range."""
  low, high, log = float(searched["low"]), float(searched["high"]), bool(searched["log"])
  scale = (lambda v: math.log(v)) if log and low > 0 and value > 0 else (lambda v: v)
  if not scale(low) < scale(high):  # a hand-edited range: nothing to say about its edges
    return []
  where = (scale(value) - scale(low)) / (scale(high) - scale(low))
  if 0.05 <= where <= 0.95:
    return []
  end, way = ("bottom", "below") if where < 0.05 else ("top", "above")
  return [f"{prefix}the chosen {name}={value:.4g} lies at the {end} of its range "
          f"{low:g}:{high:g}: widen the range {way} it"]  # fmt: skip


def json_number(value: Any) -> Optional[float]:
  """A JSON-safe float: None for non-finite values (diverged or absent)."""
  value = float(value)
  return value if math.isfinite(value) else None


# The files: results.json and results.csv -----------------------------------------------

FORMAT = "indian-optax-results"
FORMAT_VERSION = 3
"""Version 3 added the validation and test losses; version 2 files load with them NaN."""
OLDEST_VERSION = 2
_RUN_FIELDS = ("diverged_at", "epochs_trained", *FINAL_METRICS, "history")


class FormatVersionError(ValueError):
  """A results file of a format version this package cannot read (a newer one, say)."""


def to_json(result: SweepResult) -> dict[str, Any]:
  """The ``results.json`` document of ``result``."""
  return _header(result) | {"runs": _runs(result)}


def _header(result: SweepResult) -> dict[str, Any]:
  """Everything but the runs. ``best``, ``chosen`` and ``warnings`` of a complete result only:
  an incomplete one (saved after each chunk) leaves them empty, so that a save costs the new
  runs and not a summary of all of them."""
  document: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION}
  document["complete"] = result.complete
  meta = result.metadata
  if meta is not None:
    document |= {"command": meta.command, "dataset": meta.dataset, "model": meta.model}
  document["epochs"] = result.epochs
  if meta is not None:
    document |= {k: meta.options[k] for k in ("batch_size", "seed", "val_fraction")
                 if k in meta.options}  # fmt: skip
    document |= {"arguments": list(meta.arguments), "options": dict(meta.options)}
    document["files"] = list(meta.files)
    if meta.halving is not None:
      document["halving"] = {"eta": meta.halving.eta, "rungs": list(meta.halving.rungs)}
    if meta.ranges is not None:
      document["ranges"] = {k: dict(v) for k, v in meta.ranges.items()}
  summarised = bool(result.configs) and result.complete
  document |= {
    "selection": {"metric": result.selection, "split": SELECTIONS[result.selection][0]},
    "devices": result.devices,
    "best": result.best() if summarised else None,
    "chosen": result.chosen() if summarised else {},
    "warnings": result.grid_edge_warnings() if summarised else [],
  }
  return document


def _runs(result: SweepResult, start: int = 0) -> list[dict[str, Any]]:
  """The run records from run ``start`` on."""
  keys = list(dict.fromkeys(k for c in result.configs for k in c))
  finals = {m: getattr(result, m) for m in FINAL_METRICS}
  runs = []
  for i in range(start, len(result.configs)):
    config, trained = result.configs[i], int(result.epochs_trained[i])
    run = {k: config.get(k) for k in keys}
    run |= {
      "diverged_at": result.diverged_at[i],
      "epochs_trained": trained,
      **{m: json_number(v[i]) for m, v in finals.items()},
      "history": {h: [json_number(v) for v in getattr(result, h)[i][:trained]] for h in HISTORIES},
    }
    runs.append(run)
  return runs


class Saver:
  """Saves a result that grows by whole runs (a sweep after each chunk) in time linear in the
  new runs: each run is turned into its JSON text and CSV row once, and the earlier runs of a
  later save are taken as they were (they never change once finished)."""

  def __init__(self) -> None:
    self._texts: list[str] = []
    self._rows: list[dict[str, Any]] = []

  def save(self, result: SweepResult, folder: Union[str, os.PathLike]) -> list[pathlib.Path]:
    """Writes ``results.csv`` then ``results.json``, each atomically; returns their paths,
    ``results.json`` first."""
    if len(result.configs) < len(self._texts):  # another result: start over
      self._texts, self._rows = [], []
    for run in _runs(result, start=len(self._texts)):
      self._texts.append(json.dumps(run, allow_nan=False))
      self._rows.append({k: v for k, v in run.items() if k != "history"})
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / RESULTS_CSV, folder / RESULTS_JSON
    write_atomically(csv_path, _csv(self._rows).encode())
    header = json.dumps(_header(result), indent=1, allow_nan=False)
    runs = "[\n" + ",\n".join(self._texts) + "\n]" if self._texts else "[]"
    write_atomically(json_path, (header[:-2] + f',\n "runs": {runs}\n}}').encode())
    return [json_path, csv_path]


def _csv(rows: list[dict[str, Any]]) -> str:
  """The CSV of run records (without histories): the hyperparameters in the order they first
  appear, then the run's own fields."""
  own = ("diverged_at", "epochs_trained", *FINAL_METRICS)
  columns = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in own]
  columns += [k for k in own if any(k in row for row in rows)]
  table = io.StringIO()
  writer = csv.DictWriter(table, columns, extrasaction="ignore", lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return table.getvalue()


def from_json(document: dict[str, Any]) -> SweepResult:
  """The result a ``results.json`` document describes.

  Raises:
    ValueError: not a results document, or one of a format version this package cannot
      read (a newer one, say).
  """
  if document.get("format") != FORMAT:
    raise ValueError(f"not an indian-optax results file (format {document.get('format')!r})")
  version = document.get("version")
  if not isinstance(version, int) or isinstance(version, bool) or version < OLDEST_VERSION:
    raise FormatVersionError(f"unknown results format version {version!r}")
  if version > FORMAT_VERSION:
    raise FormatVersionError(
      f"written by a newer indian-optax (results format version {version}; this one reads "
      f"versions {OLDEST_VERSION} to {FORMAT_VERSION}): upgrade indian-optax to read it"
    )
  runs = document["runs"]
  epochs = int(document.get("epochs", max((len(r["history"]["train_loss"]) for r in runs),
                                          default=0)))  # fmt: skip
  history = lambda name: np.array(
    [_padded(r["history"].get(name, []), epochs) for r in runs], dtype=float
  ).reshape(len(runs), epochs)
  histories: dict[str, Any] = {h: history(h) for h in HISTORIES}
  return SweepResult(
    configs=[{k: v for k, v in r.items() if k not in _RUN_FIELDS and v is not None} for r in runs],
    epochs=epochs,
    **histories,
    final_train_loss=np.array([_nan(r["final_train_loss"]) for r in runs], dtype=float),
    diverged_at=[r["diverged_at"] for r in runs],
    epochs_trained=np.array([r["epochs_trained"] for r in runs], dtype=int),
    selection=document["selection"]["metric"],
    devices=int(document.get("devices", 1)),
    complete=bool(document["complete"]),
    metadata=_metadata(document),
  )


def _metadata(document: dict[str, Any]) -> Optional[Metadata]:
  if "command" not in document:
    return None
  halving = document.get("halving")
  return Metadata(
    command=str(document["command"]),
    dataset=str(document.get("dataset", "?")),
    model=str(document.get("model", "?")),
    arguments=tuple(document.get("arguments", ())),
    options=dict(document.get("options", {})),
    halving=None if halving is None else HalvingRecord(halving["eta"], tuple(halving["rungs"])),
    files=tuple(document.get("files", ())),
    ranges=document.get("ranges"),
  )


def run_records(result: SweepResult) -> list[dict[str, Any]]:
  """The result's runs as ``results.json`` records them (config, outcome, history)."""
  return _runs(result)


def from_runs(records: Sequence[Mapping[str, Any]], epochs: int, selection: str) -> SweepResult:
  """The result of run records (:func:`run_records`) of ``epochs`` epochs, ranked by
  ``selection``."""
  document = {"format": FORMAT, "version": FORMAT_VERSION, "complete": True, "epochs": epochs,
              "selection": {"metric": selection}, "runs": list(records)}  # fmt: skip
  return from_json(document)


def save(result: SweepResult, folder: Union[str, os.PathLike]) -> list[pathlib.Path]:
  """Writes ``results.csv`` then ``results.json`` into ``folder``, each atomically.

  Returns:
    The paths written, ``results.json`` first.
  """
  return Saver().save(result, folder)


def load(path: Union[str, os.PathLike]) -> SweepResult:
  """Loads a result saved by :func:`save`, from its folder or its ``results.json``.

  Raises:
    ValueError: no readable results file at ``path``.
  """
  path = pathlib.Path(path)
  path = path / RESULTS_JSON if path.is_dir() else path
  try:
    return from_json(json.loads(path.read_text()))
  except FileNotFoundError:
    raise ValueError(f"{str(path)!r} does not exist") from None
  except (OSError, *DAMAGED) as error:
    raise ValueError(
      f"{str(path)!r} is not a readable indian-optax results file ({error})"
    ) from None


def _nan(value: Optional[float]) -> float:
  return math.nan if value is None else float(value)


def _padded(values: list[Optional[float]], length: int) -> list[float]:
  return [_nan(v) for v in values] + [math.nan] * (length - len(values))

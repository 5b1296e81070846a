"""The one data model of a sweep's runs: :class:`SweepResult`, its settings, ranking and files.

The sweep engine returns it; the command line, the plots and the benchmarks read
it; it saves itself to a folder (``results.json``, ``results.csv``) and loads back
with :meth:`SweepResult.load`. The rule for "the best setting" lives here only.
"""

import csv
import dataclasses
import io
import json
import math
import os
import pathlib
from collections.abc import Sequence
from typing import Any, NamedTuple, Optional, Union

import numpy as np

FORMAT = "indian-optax-results"
FORMAT_VERSION = 3
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"

HIGHER_IS_BETTER: dict[str, bool] = {
  "train_loss": False,
  "val_accuracy": True,
  "test_accuracy": True,
  "val_loss": False,
  "test_loss": False,
}
"""Metric (a history, or ``final_`` + a history) -> whether higher is better: the one table."""


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
_LOSS_HISTORIES = ("val_loss", "test_loss")  # absent from results files of version 2
_RUN_FIELDS = ("diverged_at", "epochs_trained", *FINAL_METRICS, "history")


@dataclasses.dataclass(frozen=True)
class Setting:
  """One setting of a sweep: its hyperparameters, the runs of its seeds together.

  Attributes:
    hyperparameters: the config without the seed (with ``optimizer`` if named).
    runs: the indices of its runs in the :class:`SweepResult` it was taken from (and only
      there: a sub-result from ``where`` or ``take`` numbers its runs anew). Read its
      numbers from ``per_seed``, which it carries.
    seeds: their seeds.
    per_seed: each final metric's values, one per seed, in the order of ``seeds``.
    mean: mean over the seeds of each final metric (NaN if any seed diverged).
    std: standard deviation over the seeds of each final metric.
    diverged: how many of its runs diverged.
    trained_to_end: whether every run trained for all the epochs.
  """

  hyperparameters: dict[str, Any]
  runs: tuple[int, ...]
  seeds: tuple[int, ...]
  per_seed: dict[str, tuple[float, ...]]
  mean: dict[str, float]
  std: dict[str, float]
  diverged: int
  trained_to_end: bool

  def summary(self) -> dict[str, Any]:
    """The setting as one flat dict: hyperparameters, seeds, mean final metrics, diverged runs."""
    means = {k: _json_number(v) for k, v in self.mean.items()}
    return dict(self.hyperparameters, seeds=list(self.seeds), diverged=self.diverged, **means)


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """The outcome of :func:`indian_optax.app.sweep`: one row per run (grid point x seed).

  Metrics are NaN from the epoch a run diverged on (see ``diverged_at``), never a
  chance-level number, and absent (NaN) after the last epoch it trained.

  Attributes:
    configs: one dict per run: the grid's hyperparameters, the ``seed`` (and the
      ``optimizer`` when the sweep was named).
    train_loss: ``[runs, epochs]`` mean minibatch loss of each epoch.
    val_accuracy: ``[runs, epochs]`` validation accuracy after each epoch (NaN
      without a validation split).
    test_accuracy: ``[runs, epochs]`` test accuracy after each epoch; reported,
      never read to choose.
    val_loss, test_loss: ``[runs, epochs]`` mean loss on the validation and the
      test set after each epoch (default: NaN, unknown).
    final_train_loss: ``[runs]`` loss on the whole training set after training.
    diverged_at: ``[runs]`` the first epoch (counted from 1) after which the
      training loss or any param was non-finite, or None.
    epochs_trained: ``[runs]`` epochs each run trained (default: all).
    selection: what ranks runs: ``"val_accuracy"`` (the default), ``"val_loss"``
      or ``"train_loss"`` (the final loss on the whole training set).
    devices: how many devices the configuration axis was spread over.
    complete: False while a sweep is still running (a partial result on disk).
    info: free-form metadata saved with the results (the command line's options).
  """

  configs: list[dict[str, Any]]
  train_loss: np.ndarray
  val_accuracy: np.ndarray
  test_accuracy: np.ndarray
  final_train_loss: np.ndarray
  diverged_at: list[Optional[int]]
  epochs_trained: Optional[np.ndarray] = None
  val_loss: Optional[np.ndarray] = None
  test_loss: Optional[np.ndarray] = None
  selection: str = "val_accuracy"
  devices: int = 1
  complete: bool = True
  info: dict[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self) -> None:
    if self.selection not in SELECTIONS:
      raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
    runs, epochs = np.shape(self.train_loss) if len(self.configs) else (0, 0)
    if self.epochs_trained is None:
      object.__setattr__(self, "epochs_trained", np.full(runs, epochs, dtype=int))
    for name in _LOSS_HISTORIES:
      if getattr(self, name) is None:
        object.__setattr__(self, name, np.full((runs, epochs), np.nan))
    sizes = {len(self.configs), len(self.diverged_at), len(np.asarray(self.epochs_trained))}
    sizes |= {len(getattr(self, k)) for k in (*HISTORIES, "final_train_loss")}
    if sizes != {runs}:
      raise ValueError(f"SweepResult: every field needs one row per run ({len(self.configs)})")

  # Per-run views ------------------------------------------------------------

  @property
  def epochs(self) -> int:
    """The number of epochs the sweep was planned for."""
    return int(np.shape(self.train_loss)[1]) if len(self.configs) else 0

  @property
  def final_val_accuracy(self) -> np.ndarray:
    """``[runs]`` validation accuracy after each run's last trained epoch."""
    return self._at_last_epoch(self.val_accuracy)

  @property
  def final_test_accuracy(self) -> np.ndarray:
    """``[runs]`` test accuracy after each run's last trained epoch."""
    return self._at_last_epoch(self.test_accuracy)

  def _at_last_epoch(self, history: np.ndarray) -> np.ndarray:
    last = np.maximum(np.asarray(self.epochs_trained, dtype=int) - 1, 0)
    return np.asarray(history)[np.arange(len(self.configs)), last] if len(last) else np.zeros(0)

  @property
  def final_val_loss(self) -> np.ndarray:
    """``[runs]`` validation loss after each run's last trained epoch."""
    return self._at_last_epoch(np.asarray(self.val_loss))

  @property
  def final_test_loss(self) -> np.ndarray:
    """``[runs]`` test loss after each run's last trained epoch."""
    return self._at_last_epoch(np.asarray(self.test_loss))

  @property
  def hyperparameter_names(self) -> list[str]:
    """The names in the configs other than ``seed`` and ``optimizer``, in order of appearance."""
    names = dict.fromkeys(k for c in self.configs for k in c)
    return [k for k in names if k not in ("seed", "optimizer")]

  def selection_scores(self) -> np.ndarray:
    """``[runs]`` the selection metric, signed so that higher is better (NaN if diverged)."""
    metric, maximise = self.selection, higher_is_better(self.selection)
    values = getattr(self, f"final_{metric}")
    return np.asarray(values, dtype=float) * (1.0 if maximise else -1.0)

  # Settings and the one rule for "best" -------------------------------------

  def settings(self) -> list[Setting]:
    """The settings (configs without the seed), in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(self.configs):
      key = tuple((k, v) for k, v in config.items() if k != "seed")
      groups.setdefault(key, []).append(i)
    return [self._setting(dict(key), rows) for key, rows in groups.items()]

  def _setting(self, hyperparameters: dict[str, Any], rows: list[int]) -> Setting:
    finals = {m: np.asarray(getattr(self, m), dtype=float)[rows] for m in FINAL_METRICS}
    diverged = sum(self.diverged_at[i] is not None for i in rows)
    return Setting(
      hyperparameters=hyperparameters,
      runs=tuple(rows),
      seeds=tuple(int(self.configs[i].get("seed", 0)) for i in rows),
      per_seed={m: tuple(float(x) for x in v) for m, v in finals.items()},
      mean={m: float(np.mean(v)) if len(v) else math.nan for m, v in finals.items()},
      std={m: float(np.std(v)) if len(v) else math.nan for m, v in finals.items()},
      diverged=diverged,
      trained_to_end=bool(np.all(np.asarray(self.epochs_trained)[rows] >= self.epochs)),
    )

  def _rank_key(self, rows: Sequence[int]) -> tuple:
    """Best first: trained to the end, no diverged seed, best mean score, lowest train loss."""
    scores = self.selection_scores()[list(rows)]
    losses = np.asarray(self.final_train_loss, dtype=float)[list(rows)]
    diverged = any(self.diverged_at[i] is not None for i in rows)
    stopped = bool(np.any(np.asarray(self.epochs_trained)[list(rows)] < self.epochs))
    return rank_key(scores, losses, diverged, stopped)

  def ranked_settings(self) -> list[Setting]:
    """The settings best first, by the mean over seeds of the selection metric.

    A setting any of whose seeds diverged ranks after every finite one, and a
    setting not trained to the end after those. Ties go to the lower mean final
    training loss, then to the earlier setting.
    """
    return sorted(self.settings(), key=lambda s: self._rank_key(s.runs))

  def ranking(self) -> list[int]:
    """Run indices best first, each run on its own, by the same rule as :meth:`ranked_settings`."""
    return sorted(range(len(self.configs)), key=lambda i: self._rank_key([i]))

  def best(self) -> dict[str, Any]:
    """The best setting (see :meth:`ranked_settings`) as a flat dict (:meth:`Setting.summary`)."""
    if not self.configs:
      raise ValueError("SweepResult.best: the result holds no runs")
    return self.ranked_settings()[0].summary()

  def where(self, **values: Any) -> "SweepResult":
    """The runs whose config has all the given values (e.g. ``where(optimizer="adam")``)."""
    rows = [i for i, c in enumerate(self.configs) if all(c.get(k) == v for k, v in values.items())]
    return self.take(rows)

  def take(self, rows: Sequence[int]) -> "SweepResult":
    """The given runs, in the given order."""
    rows = list(rows)
    pick = lambda a: np.asarray(a)[rows] if len(rows) else np.asarray(a)[:0]
    histories: dict[str, Any] = {h: pick(getattr(self, h)) for h in HISTORIES}
    return dataclasses.replace(
      self,
      configs=[self.configs[i] for i in rows],
      **histories,
      final_train_loss=pick(self.final_train_loss),
      diverged_at=[self.diverged_at[i] for i in rows],
      epochs_trained=pick(self.epochs_trained),
    )

  @property
  def optimizers(self) -> list[Optional[str]]:
    """The optimizer names in the configs, in order of appearance ([None] if unnamed)."""
    return list(dict.fromkeys(c.get("optimizer") for c in self.configs))

  def chosen_settings(self) -> list[Setting]:
    """Each optimizer's best setting (the best of its own runs), best first."""
    chosen: dict[Optional[str], Setting] = {}
    for setting in self.ranked_settings():
      chosen.setdefault(setting.hyperparameters.get("optimizer"), setting)
    return list(chosen.values())

  def chosen(self) -> dict[str, dict[str, Any]]:
    """Each named optimizer's best setting as a flat dict (:meth:`Setting.summary`)."""
    chosen = self.chosen_settings()
    return {
      s.hyperparameters["optimizer"]: s.summary()
      for s in chosen
      if "optimizer" in s.hyperparameters
    }

  def grid_edge_warnings(self) -> list[str]:
    """One line for each swept hyperparameter whose chosen value is the grid's smallest or largest.

    Checked for each optimizer's best setting, for hyperparameters with at least
    3 values tried; the line says which way to extend the grid.
    """
    warnings = []
    for name in self.optimizers:
      runs = self.where(optimizer=name) if name else self
      best = runs.ranked_settings()[0]
      if best.diverged or not np.isfinite(best.mean["final_train_loss"]):
        continue
      prefix = f"{name}: " if name else ""
      for hp in runs.hyperparameter_names:
        tried = sorted({c[hp] for c in runs.configs if hp in c})
        value = best.hyperparameters.get(hp)
        if len(tried) < 3 or value not in (tried[0], tried[-1]):
          continue
        end, way = ("smallest", "below") if value == tried[0] else ("largest", "above")
        warnings.append(
          f"{prefix}the chosen {hp}={value:g} is the {end} value tried "
          f"({tried[0]:g} to {tried[-1]:g}): extend the grid {way} it"
        )
    return warnings

  @classmethod
  def concatenate(cls, results: Sequence["SweepResult"]) -> "SweepResult":
    """The runs of several results (same epochs and selection), in order."""
    if not results:
      raise ValueError("SweepResult.concatenate: no results")
    first = results[0]
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

  # Files ---------------------------------------------------------------------

  def to_json(self) -> dict[str, Any]:
    """The ``results.json`` document (schema in the README)."""
    split = SELECTIONS[self.selection][0]
    document = {"format": FORMAT, "version": FORMAT_VERSION, "complete": self.complete}
    document |= self.info
    document |= {
      "selection": {"metric": self.selection, "split": split},
      "devices": self.devices,
      "best": self.best() if self.configs else None,
      "chosen": {k: v for k, v in self.chosen().items()} if self.configs else {},
      "warnings": self.grid_edge_warnings() if self.configs else [],
      "runs": self._runs_json(),
    }
    return document

  def _runs_json(self) -> list[dict[str, Any]]:
    keys = list(dict.fromkeys(k for c in self.configs for k in c))
    runs = []
    for i, config in enumerate(self.configs):
      trained = int(np.asarray(self.epochs_trained)[i])
      run = {k: config.get(k) for k in keys}
      run |= {
        "diverged_at": self.diverged_at[i],
        "epochs_trained": trained,
        **{m: _json_number(getattr(self, m)[i]) for m in FINAL_METRICS},
        "history": {h: [_json_number(v) for v in getattr(self, h)[i][:trained]] for h in HISTORIES},
      }
      runs.append(run)
    return runs

  def to_csv(self) -> str:
    """``results.csv``: one row per run, the configs and the final metrics."""
    runs = self._runs_json()
    columns = [k for k in (runs[0] if runs else {}) if k != "history"]
    table = io.StringIO()
    writer = csv.DictWriter(table, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(runs)
    return table.getvalue()

  def save(self, folder: Union[str, os.PathLike]) -> list[pathlib.Path]:
    """Writes ``results.csv`` then ``results.json`` into ``folder``, each atomically.

    Returns:
      The paths written.
    """
    folder = pathlib.Path(folder)
    csv_path, json_path = folder / RESULTS_CSV, folder / RESULTS_JSON
    write_atomically(csv_path, self.to_csv().encode())
    text = json.dumps(self.to_json(), indent=1, allow_nan=False)
    write_atomically(json_path, text.encode())
    return [json_path, csv_path]

  @classmethod
  def from_json(cls, document: dict[str, Any]) -> "SweepResult":
    """The result a ``results.json`` document describes (see :meth:`to_json`)."""
    if document.get("format") != FORMAT:
      raise ValueError(f"not an indian-optax results file (format {document.get('format')!r})")
    runs = document["runs"]
    epochs = max((len(r["history"]["train_loss"]) for r in runs), default=0)
    epochs = int(document.get("epochs", epochs))
    history = lambda name: np.array(
      [_padded(r["history"].get(name, []), epochs) for r in runs], dtype=float
    ).reshape(len(runs), epochs)
    histories: dict[str, Any] = {h: history(h) for h in HISTORIES}
    known = {"format", "version", "complete", "selection", "devices", "best", "chosen"}
    return cls(
      configs=[
        {k: v for k, v in r.items() if k not in _RUN_FIELDS and v is not None} for r in runs
      ],
      **histories,
      final_train_loss=np.array([_nan(r["final_train_loss"]) for r in runs], dtype=float),
      diverged_at=[r["diverged_at"] for r in runs],
      epochs_trained=np.array([r["epochs_trained"] for r in runs], dtype=int),
      selection=document["selection"]["metric"],
      devices=int(document.get("devices", 1)),
      complete=bool(document["complete"]),
      info={k: v for k, v in document.items() if k not in known | {"warnings", "runs"}},
    )

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "SweepResult":
    """Loads a result saved by :meth:`save`, from its folder or its ``results.json``.

    Raises:
      ValueError: no readable results file at ``path``.
    """
    path = pathlib.Path(path)
    path = path / RESULTS_JSON if path.is_dir() else path
    try:
      document = json.loads(path.read_text())
      return cls.from_json(document)
    except FileNotFoundError:
      raise ValueError(f"{str(path)!r} does not exist") from None
    except (OSError, KeyError, TypeError, ValueError) as error:
      raise ValueError(
        f"{str(path)!r} is not a readable indian-optax results file ({error})"
      ) from None


def _json_number(value: Any) -> Optional[float]:
  """A JSON-safe float: None for non-finite values (diverged or absent)."""
  value = float(value)
  return value if math.isfinite(value) else None


def _nan(value: Optional[float]) -> float:
  return math.nan if value is None else float(value)


def _padded(values: list[Optional[float]], length: int) -> list[float]:
  return [_nan(v) for v in values] + [math.nan] * (length - len(values))


def write_atomically(path: pathlib.Path, content: bytes) -> None:
  """Writes ``content`` to ``path`` through a temporary file and a rename: never half a file."""
  temporary = path.with_name(f".{path.name}.tmp")
  temporary.write_bytes(content)
  os.replace(temporary, path)

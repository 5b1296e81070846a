"""Reading and writing a :class:`~indian_optax.app.SweepResult`: ``results.json``, ``results.csv``.

The schema is in ``docs/sweeps.md``. Files are written atomically (a temporary file, then a
rename), CSV first and JSON last, so a folder never holds half a result; a file of a format
version this package does not know is refused with a message saying why.
"""

import csv
import io
import json
import math
import os
import pathlib
from typing import Any, Optional, Union

import numpy as np

from indian_optax.app.results import (
  FINAL_METRICS,
  HISTORIES,
  SELECTIONS,
  HalvingRecord,
  Metadata,
  SweepResult,
  json_number,
)

FORMAT = "indian-optax-results"
FORMAT_VERSION = 3
"""Version 3 added the validation and test losses; version 2 files load with them NaN."""
OLDEST_VERSION = 2
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
_RUN_FIELDS = ("diverged_at", "epochs_trained", *FINAL_METRICS, "history")


class FormatVersionError(ValueError):
  """A results file of a format version this package cannot read (a newer one, say)."""


DAMAGED = (KeyError, TypeError, ValueError, IndexError, AttributeError)
"""What reading or summarising a damaged (hand-edited, truncated) results document raises:
caught in one tuple by everything that reads one."""


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
  )


def save(result: SweepResult, folder: Union[str, os.PathLike]) -> list[pathlib.Path]:
  """Writes ``results.csv`` then ``results.json`` into ``folder``, each atomically.

  Returns:
    The paths written, ``results.json`` first.
  """
  return Saver().save(result, folder)


def read_document(path: pathlib.Path) -> Optional[dict]:
  """The JSON document at ``path``, None when there is none or it is not JSON."""
  try:
    document = json.loads(path.read_text())
  except (OSError, ValueError):
    return None
  return document if isinstance(document, dict) else None


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


def write_atomically(path: pathlib.Path, content: bytes) -> None:
  """Writes ``content`` to ``path`` through a temporary file and a rename: never half a file,
  and on disk (file and folder synced) before the rename is relied on."""
  temporary = path.with_name(f".{path.name}.tmp")
  with open(temporary, "wb") as file:
    file.write(content)
    file.flush()
    os.fsync(file.fileno())
  os.replace(temporary, path)
  try:
    folder = os.open(path.parent, os.O_RDONLY)
  except OSError:  # a folder cannot be opened on Windows: the rename is what it offers
    return
  try:
    os.fsync(folder)
  except OSError:
    pass
  finally:
    os.close(folder)


def _nan(value: Optional[float]) -> float:
  return math.nan if value is None else float(value)


def _padded(values: list[Optional[float]], length: int) -> list[float]:
  return [_nan(v) for v in values] + [math.nan] * (length - len(values))

"""The files of a result set on disk: their names, the one atomic writer, the one reader of a
possibly damaged document.

Every file of a result set is written by :func:`write_atomically` (a temporary file synced,
then a rename, then the folder synced), so a folder never holds half a file. What the
documents hold is :mod:`indian_optax.app.results`' (the schema is in ``docs/sweeps.md``).
"""

import json
import os
import pathlib
from typing import Optional

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
DAMAGED = (KeyError, TypeError, ValueError, IndexError, AttributeError)
"""What reading or summarising a damaged (hand-edited, truncated) results document raises:
caught in one tuple by everything that reads one."""


def read_document(path: pathlib.Path) -> Optional[dict]:
  """The JSON document at ``path``, None when there is none or it is not JSON."""
  try:
    document = json.loads(path.read_text())
  except (OSError, ValueError):
    return None
  return document if isinstance(document, dict) else None


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

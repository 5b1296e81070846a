"""The output folder of one command: created and write-tested first, locked, never half-written.

A result set is what one run wrote: ``results.json`` (which lists every file of the
set under ``"files"``), ``results.csv`` and PNG plots. Replacing a result set
(``--force``) removes exactly those files and nothing else in the folder.
"""

import contextlib
import errno
import os
import pathlib
from collections.abc import Iterator
from typing import Optional

from indian_optax.app.results_files import RESULTS_CSV, RESULTS_JSON

try:
  import fcntl
except ImportError:  # Windows: a lock file through filelock (the app extra installs it there)
  fcntl = None  # type: ignore[assignment]

LOCK = ".indian-optax.lock"
"""The lock file, on Windows only: elsewhere the folder itself is locked and no file is made."""


class FolderError(Exception):
  """The folder cannot be used: the message says why, in one line."""


def prepare(path: pathlib.Path) -> tuple[pathlib.Path, Optional[pathlib.Path]]:
  """Resolves ``path``, creates it and checks that a file can be written there.

  Returns:
    The resolved folder, and the outermost folder this call created (None if it existed).
  """
  path = path.expanduser().resolve()
  if path.exists() and not path.is_dir():
    raise FolderError(f"{str(path)!r} exists and is not a folder")
  missing = [p for p in (path, *path.parents) if not p.exists()]
  try:
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".indian-optax-write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
  except OSError as error:
    if missing:
      discard(path, missing[-1])
    raise FolderError(f"cannot write to {str(path)!r}: {error.strerror or error}") from None
  return path, (missing[-1] if missing else None)


def discard(path: pathlib.Path, created: pathlib.Path) -> None:
  """Removes ``path`` and its parents up to ``created`` (the outermost folder this command
  created), each only if it is empty (but for a Windows lock file)."""
  try:
    (path / LOCK).unlink(missing_ok=True)
  except OSError:
    return
  for folder in (path, *path.parents):
    try:
      folder.rmdir()
    except OSError:
      return
    if folder == created:
      return


@contextlib.contextmanager
def locked(path: pathlib.Path) -> Iterator[None]:
  """Holds the folder's lock: a second command on the same folder fails at once.

  On Linux and macOS the lock is an advisory ``flock`` on the folder itself: no file is
  left behind, and the system releases it when the process ends however it ends, so it
  never goes stale. On Windows, where a folder cannot be locked, it is ``filelock``'s lock
  on a file in the folder (which filelock removes when it is released).
  """
  in_use = FolderError(f"{str(path)!r} is in use by another indian-optax command")
  if fcntl is None:
    import filelock

    lock = filelock.FileLock(str(path / LOCK))
    try:
      lock.acquire(timeout=0)
    except filelock.Timeout:
      raise in_use from None
    try:
      yield
    finally:
      lock.release()
    return
  handle = os.open(path, os.O_RDONLY)
  try:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
      if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
        raise in_use from None
      raise
    yield
  finally:
    os.close(handle)


def result_files(path: pathlib.Path, document: Optional[dict]) -> list[pathlib.Path]:
  """The files of the result set in the folder: those its ``document`` (results.json)
  records (a figure is written together with the document that lists it), and the results
  files themselves."""
  recorded = (document or {}).get("files", [])
  names = set(recorded) | {RESULTS_JSON, RESULTS_CSV}
  names = {n for n in names if isinstance(n, str) and pathlib.Path(n).name == n}
  return sorted(path / n for n in names if (path / n).is_file())


def remove(files: list[pathlib.Path]) -> None:
  """Removes a previous result set, ``results.json`` last (so a crash leaves it recognisable)."""
  for file in sorted(files, key=lambda f: f.name == RESULTS_JSON):
    file.unlink(missing_ok=True)

"""Ctrl-C and SIGTERM for the ``indian-optax`` command: never lost, never in the middle of a save.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Two kinds of place
lose it: a callback Python runs for the garbage collector (a gc callback, as JAX registers; a
weak reference's callback; a ``__del__``), where it prints "Exception ignored" and a traceback
and carries on, so the command ran to the end after a Ctrl-C; and a save (the JSON and the CSV
of a result set would disagree). Here a signal is always recorded; it is raised at once unless
it lands in such a callback or inside :func:`deferred`, and then at the next :func:`check` or at
the end of the deferral. Standard library only (and :mod:`indian_optax.app` imports its
modules on first use), so that ``__main__`` installs it before JAX, Flax and Matplotlib are
imported.
"""

import contextlib
import gc
import signal
import weakref
from collections.abc import Iterator
from types import FrameType
from typing import Any, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"pending": False, "deferring": 0}


def _in_callback(frame: Optional[FrameType]) -> bool:
  """Whether ``frame`` runs where Python drops an exception ("Exception ignored"): a gc
  callback, a weak reference's callback (the weak dictionaries' ``remove``, ``finalize``) or
  a ``__del__``."""
  codes = {getattr(callback, "__code__", None) for callback in gc.callbacks}
  while frame is not None:
    code = frame.f_code
    if code in codes or code.co_filename == weakref.__file__ or code.co_name == "__del__":
      return True
    frame = frame.f_back
  return False


def _handler(signum: int, frame: Optional[FrameType]) -> None:
  _state["pending"] = True
  if _state["deferring"] or _in_callback(frame):
    return  # raised by check(), or when the deferral ends
  raise KeyboardInterrupt


def install() -> dict[int, Any]:
  """Handles SIGINT and SIGTERM from now on (nothing pending); returns the previous handlers."""
  _state["pending"], _state["deferring"] = False, 0
  return {signum: signal.signal(signum, _handler) for signum in SIGNALS}


def restore(previous: dict[int, Any]) -> None:
  """Puts back the handlers :func:`install` replaced."""
  for signum, handler in previous.items():
    signal.signal(signum, handler)


def check() -> None:
  """Raises ``KeyboardInterrupt`` if a signal arrived that was not raised where it landed."""
  if _state["pending"]:
    raise KeyboardInterrupt


def taken() -> None:
  """Marks the pending signal as handled: what follows (the handler's own save, under
  :func:`deferred`) runs, and a further signal interrupts it again."""
  _state["pending"] = False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
  """Holds signals back while the block runs (a save); raises at its end if one came."""
  _state["deferring"] += 1
  try:
    yield
  finally:
    _state["deferring"] -= 1
  if not _state["deferring"]:
    check()

"""The indian-optax command: train, sweep and compare INDIAN/INNAprop on embedded data, with plots.

``main`` parses the command line into a plan (:mod:`~indian_optax.app.plan`), runs it
(:mod:`~indian_optax.app.command`) and reports it (:mod:`~indian_optax.app.report`).
Every user mistake ends in one line on stderr and exit status 2, never a traceback;
Ctrl-C or SIGTERM in exit status 130, with the finished chunks saved (and said so).
"""

import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Optional

from indian_optax.app import command, report
from indian_optax.app.plan import PROG, Report, UsageError, parse


def _terminate(signum: int, frame: Any) -> NoReturn:
  raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the ``indian-optax`` command; returns the exit status."""
  previous_handler = signal.signal(signal.SIGTERM, _terminate)
  try:
    plan = parse(sys.argv[1:] if argv is None else argv)
    return report.report(plan.folder) if isinstance(plan, Report) else command.run(plan)
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except command.Interrupted as interrupted:
    folder = interrupted.folder
    saved = (
      f"the completed chunks are saved in {folder} (continue with --resume --out {folder})"
      if interrupted.saved
      else "nothing was saved"
    )
    print(f"{PROG}: interrupted; {saved}", file=sys.stderr)
    return 130
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted", file=sys.stderr)
    return 130
  finally:
    signal.signal(signal.SIGTERM, previous_handler)

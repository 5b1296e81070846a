"""The indian-optax command: train, sweep and compare INDIAN/INNAprop on embedded data, with plots.

``main`` parses the command line into a plan (:mod:`~indian_optax.app.plan`), runs it
(:mod:`~indian_optax.app.command`) and reports it (:mod:`~indian_optax.app.report`).
Every user mistake ends in one line on stderr and exit status 2, never a traceback;
Ctrl-C or SIGTERM in exit status 130, with the finished chunks saved (and said so).
"""

import sys
from collections.abc import Sequence
from typing import Optional

from indian_optax.app import command, interrupts
from indian_optax.app.plan import PROG, Report, UsageError, parse


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the ``indian-optax`` command; returns the exit status."""
  previous_handlers = interrupts.install()
  try:
    plan = parse(sys.argv[1:] if argv is None else argv)
    interrupts.check()
    return command.redraw(plan.folder) if isinstance(plan, Report) else command.run(plan)
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except command.Interrupted as interrupted:
    print(f"{PROG}: interrupted; {interrupted.message}", file=sys.stderr)
    return 130
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted; nothing was saved", file=sys.stderr)
    return 130
  finally:
    interrupts.restore(previous_handlers)

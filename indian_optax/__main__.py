"""``python -m indian_optax`` and the ``indian-optax`` console script.

The one place where a missing ``app`` extra becomes a one-line error (exit status 2).
"""

import os
import signal
import sys


def main() -> int:
  """Runs the command line of :mod:`indian_optax.app.cli`; returns the exit status."""
  try:
    # Standard library only so far: Ctrl-C is handled before JAX and Flax are imported.
    from indian_optax.app import interrupts

    interrupts.install()
    # Held back while modules initialise (an exception inside a C extension's import turns
    # into an ImportError, or is lost in a gc callback), raised when the imports are done.
    with interrupts.deferred():
      from indian_optax.app import cli
  except ImportError as error:  # indian_optax.app.MissingExtraError, or a broken install
    print(f"indian-optax: error: {error}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("indian-optax: interrupted while starting; nothing was run", file=sys.stderr)
    return _leave(130)
  return _leave(cli.main())


def _leave(status: int) -> int:
  # The work is done or given up: a signal from now on, while the interpreter shuts down,
  # has nothing left to stop (and must not turn a finished command into a killed one).
  for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, signal.SIG_IGN)
  if status == 130:
    # Interrupted: leave now. A compilation still running on XLA's threads must not meet
    # the interpreter's shutdown (seen: a segfault after SIGTERM during the first compile).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
  return status


if __name__ == "__main__":
  sys.exit(main())

"""``python -m indian_optax`` and the ``indian-optax`` console script.

The one place where a missing ``app`` extra becomes a one-line error (exit status 2).
"""

import os
import sys


def main() -> int:
  """Runs the command line of :mod:`indian_optax.app.cli`; returns the exit status."""
  try:
    from indian_optax.app import cli
  except ImportError as error:  # indian_optax.app.MissingExtraError, or a broken install
    print(f"indian-optax: error: {error}", file=sys.stderr)
    return 2
  status = cli.main()
  if status == 130:
    # Interrupted: leave now. A compilation still running on XLA's threads must not meet
    # the interpreter's shutdown (seen: a segfault after SIGTERM during the first compile).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
  return status


if __name__ == "__main__":
  sys.exit(main())

"""``python -m indian_optax`` and the ``indian-optax`` console script.

The one place where a missing ``app`` extra becomes a one-line error (exit status 2).
"""

import sys


def main() -> int:
  """Runs the command line of :mod:`indian_optax.app.cli`; returns the exit status."""
  try:
    from indian_optax.app import cli
  except ImportError as error:  # indian_optax.app.MissingExtraError, or a broken install
    print(f"indian-optax: error: {error}", file=sys.stderr)
    return 2
  return cli.main()


if __name__ == "__main__":
  sys.exit(main())

"""``python -m indian_optax``: the ``indian-optax`` command."""

import sys

from indian_optax.cli import main

sys.exit(main())

"""The main job: the vmapped sweep engine, its results, data sets, models, plots and the CLI.

Everything here needs the ``app`` extra (``pip install 'indian-optax[app]'``: flax,
matplotlib, scikit-learn, mnist1d, tqdm); a missing one raises
:class:`MissingExtraError` on import, which the command turns into one line. The
optimizers themselves (:mod:`indian_optax`) need none of them.
"""

import importlib.util


class MissingExtraError(ImportError):
  """A package of the ``app`` extra is not installed."""


# Found, not imported: a package the default command does not use (mnist1d) costs nothing.
for _module in ("flax", "matplotlib", "sklearn", "mnist1d", "tqdm"):
  try:
    _found = importlib.util.find_spec(_module) is not None
  except (ImportError, ValueError):  # a module set to None in sys.modules, say
    _found = False
  if not _found:
    raise MissingExtraError(f"{_module} is missing: pip install 'indian-optax[app]'", name=_module)

from indian_optax.app import data, models, optimizers, plots  # noqa: E402
from indian_optax.app.engine import EpochProgress, Placement, Splits  # noqa: E402
from indian_optax.app.results import Metadata, Setting, SweepResult  # noqa: E402
from indian_optax.app.sweep import (  # noqa: E402
  auto_chunk_size,
  grid_points,
  sweep,
  validation_split,
)

__all__ = [
  "EpochProgress",
  "Metadata",
  "MissingExtraError",
  "Placement",
  "Setting",
  "Splits",
  "SweepResult",
  "auto_chunk_size",
  "grid_points",
  "sweep",
  "data",
  "models",
  "optimizers",
  "plots",
  "validation_split",
]

"""The main job: the vmapped sweep engine, its results, data sets, models, plots and the CLI.

Everything here needs the ``app`` extra (``pip install 'indian-optax[app]'``: flax,
matplotlib, scikit-learn, mnist1d, tqdm, optuna); a missing one raises
:class:`MissingExtraError` on import, which the command turns into one line. The
optimizers themselves (:mod:`indian_optax`) need none of them.
"""

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any


class MissingExtraError(ImportError):
  """A package of the ``app`` extra is not installed."""


# Found, not imported: a package the default command does not use (mnist1d) costs nothing.
for _module in ("flax", "matplotlib", "sklearn", "mnist1d", "tqdm", "optuna"):
  try:
    _found = importlib.util.find_spec(_module) is not None
  except (ImportError, ValueError):  # a module set to None in sys.modules, say
    _found = False
  if not _found:
    raise MissingExtraError(f"{_module} is missing: pip install 'indian-optax[app]'", name=_module)

_LAZY = {
  "EpochProgress": "engine", "Placement": "engine", "Splits": "engine",
  "Metadata": "results", "Setting": "results", "SweepResult": "results",
  "auto_chunk_size": "sweeping", "grid_points": "sweeping", "sweep": "sweeping",
  "validation_split": "sweeping", "Range": "space", "tune": "tuning",
}  # fmt: skip
"""Public name -> the module that defines it, imported on first use (PEP 562): the command
installs its Ctrl-C handling (:mod:`~indian_optax.app.interrupts`) before JAX is imported."""
_MODULES = ("data", "models", "optimizers", "plots")

if TYPE_CHECKING:
  from indian_optax.app import data, models, optimizers, plots
  from indian_optax.app.engine import EpochProgress, Placement, Splits
  from indian_optax.app.results import Metadata, Setting, SweepResult
  from indian_optax.app.space import Range
  from indian_optax.app.sweeping import auto_chunk_size, grid_points, sweep, validation_split
  from indian_optax.app.tuning import tune


def __getattr__(name: str) -> Any:
  if name in _LAZY:
    value = getattr(importlib.import_module(f"indian_optax.app.{_LAZY[name]}"), name)
  elif name in _MODULES:
    value = importlib.import_module(f"indian_optax.app.{name}")
  else:  # a submodule not imported yet: ``from indian_optax.app import cli`` imports it
    raise AttributeError(f"module 'indian_optax.app' has no attribute {name!r}")
  globals()[name] = value
  return value


__all__ = [
  "EpochProgress",
  "Metadata",
  "MissingExtraError",
  "Placement",
  "Range",
  "Setting",
  "Splits",
  "SweepResult",
  "auto_chunk_size",
  "grid_points",
  "sweep",
  "tune",
  "data",
  "models",
  "optimizers",
  "plots",
  "validation_split",
]

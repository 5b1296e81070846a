"""indian-optax: the inertial Newton optimizers INDIAN/INNA and INNAprop for Optax.

The top level holds the optimizers and what they need (jax, optax, chex, numpy).
The main job (sweep engine, results, command line, data, models, plots) lives in
:mod:`indian_optax.app`, which needs the ``app`` extra; ``indian_optax.sweep``,
``indian_optax.SweepResult`` and ``indian_optax.grid_points`` are its entry points
(they are not in ``__all__``: ``from indian_optax import *`` needs the core dependencies
only).

Every name is imported on first use (PEP 562), so that ``import indian_optax`` costs
nothing until an optimizer is asked for: the ``indian-optax`` command installs its
Ctrl-C handling before JAX is imported (a Ctrl-C that lands in JAX's import is otherwise
lost in a garbage-collector callback).
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_FROM_CORE = {
  "HyperparameterError": "_checks",
  "IndianState": "_inertial",
  "indian": "_inertial",
  "psi_from_state": "_inertial",
  "InnapropState": "_innaprop",
  "ScaleByBiasCorrectedRmsState": "_innaprop",
  "innaprop": "_innaprop",
  "scale_by_bias_corrected_rms": "_innaprop",
  "power_decay": "_schedules",
}
"""Public name -> the private module that defines it."""
_FROM_APP = ("SweepResult", "grid_points", "sweep")
_DEPRECATED = ("scale_by_indian", "scale_by_indian_psi", "IndianPsiState")  # see _deprecated

if TYPE_CHECKING:  # what type checkers and readers see; at run time, __getattr__ below
  from indian_optax import diagnostics
  from indian_optax._checks import HyperparameterError
  from indian_optax._inertial import IndianState, indian, psi_from_state
  from indian_optax._innaprop import (
    InnapropState,
    ScaleByBiasCorrectedRmsState,
    innaprop,
    scale_by_bias_corrected_rms,
  )
  from indian_optax._schedules import power_decay


def __getattr__(name: str) -> Any:
  # Anything else, a submodule included, is an AttributeError at once: ``from indian_optax
  # import _checks`` then imports the submodule.
  if name in _DEPRECATED:
    return importlib.import_module("indian_optax._deprecated").get(name)  # warns at every use
  if name in _FROM_CORE:
    value = getattr(importlib.import_module(f"indian_optax.{_FROM_CORE[name]}"), name)
  elif name == "diagnostics":
    value = importlib.import_module("indian_optax.diagnostics")
  elif name in _FROM_APP:
    value = getattr(importlib.import_module("indian_optax.app"), name)
  else:
    raise AttributeError(f"module 'indian_optax' has no attribute {name!r}")
  globals()[name] = value  # later uses are plain attribute reads
  return value


def __dir__() -> list[str]:
  return sorted({*globals(), *__all__})


__all__ = [
  "HyperparameterError",
  "IndianState",
  "InnapropState",
  "ScaleByBiasCorrectedRmsState",
  "diagnostics",
  "indian",
  "innaprop",
  "power_decay",
  "psi_from_state",
  "scale_by_bias_corrected_rms",
]

"""indian-optax: the inertial Newton optimizers INDIAN/INNA and INNAprop for Optax.

The top level holds the optimizers and what they need (jax, optax, chex, numpy).
The main job (sweep engine, results, command line, data, models, plots) lives in
:mod:`indian_optax.app`, which needs the ``app`` extra; ``indian_optax.sweep``,
``indian_optax.SweepResult`` and ``indian_optax.grid_points`` are its entry points,
loaded on first use so that ``import indian_optax`` stays light (they are not in
``__all__``: ``from indian_optax import *`` needs the core dependencies only).
"""

from typing import Any

from indian_optax import _deprecated, diagnostics
from indian_optax._checks import HyperparameterError
from indian_optax._inertial import IndianState, indian, psi_from_state
from indian_optax._innaprop import (
  InnapropState,
  ScaleByBiasCorrectedRmsState,
  innaprop,
  scale_by_bias_corrected_rms,
)
from indian_optax._schedules import power_decay

__version__ = "0.2.0"

_FROM_APP = ("SweepResult", "grid_points", "sweep")


def __getattr__(name: str) -> Any:
  # The sweep engine's names, imported from the app on first use (PEP 562).
  if name in _deprecated.DEPRECATED:
    return _deprecated.get(name)
  if name in _FROM_APP:
    from indian_optax import app

    return getattr(app, name)
  raise AttributeError(f"module 'indian_optax' has no attribute {name!r}")


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

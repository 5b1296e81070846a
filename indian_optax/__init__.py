"""indian-optax: the inertial Newton optimizers INDIAN/INNA and INNAprop for Optax."""

from indian_optax import diagnostics
from indian_optax._inertial import IndianPsiState, IndianState, indian, psi_from_state
from indian_optax._innaprop import (
  ScaleByBiasCorrectedRmsState,
  innaprop,
  scale_by_bias_corrected_rms,
)
from indian_optax._schedules import power_decay
from indian_optax._sweep import SweepResult, grid_points, sweep

__all__ = [
  "IndianPsiState",
  "IndianState",
  "ScaleByBiasCorrectedRmsState",
  "SweepResult",
  "diagnostics",
  "grid_points",
  "indian",
  "innaprop",
  "power_decay",
  "psi_from_state",
  "scale_by_bias_corrected_rms",
  "sweep",
]
__version__ = "0.1.0"

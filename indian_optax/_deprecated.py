"""Names that went away in 0.3, kept working for one release with a DeprecationWarning."""

import warnings
from typing import Any, Optional

import jax
import optax

from indian_optax import _checks
from indian_optax._inertial import IndianState, indian


@_checks.checks_hyperparameters
def scale_by_indian_psi(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.1,
  beta: optax.ScalarOrSchedule = 0.9,
  *,
  decoupled_weight_decay: Optional[jax.typing.ArrayLike] = None,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  """Deprecated: :func:`indian_optax.indian` with these arguments (INNAprop's defaults).

  The same INDIAN step, now kept in φ with an :class:`IndianState` (was ψ − θ in an
  ``IndianPsiState``).
  """
  return indian(
    learning_rate, alpha, beta, decoupled_weight_decay=decoupled_weight_decay,
    state_dtype=state_dtype,
  )  # fmt: skip


DEPRECATED: dict[str, tuple[Any, str]] = {
  "scale_by_indian": (
    indian,
    "indian_optax.scale_by_indian is deprecated: use indian_optax.indian, the same "
    "transformation (its learning rate lives inside the step, which Optax's scale_by_ names "
    "do not). It will be removed in 0.4.",
  ),
  "scale_by_indian_psi": (
    scale_by_indian_psi,
    "indian_optax.scale_by_indian_psi is deprecated: use indian_optax.indian(learning_rate, "
    "alpha, beta, decoupled_weight_decay=...), the same step (its state is now an "
    "IndianState). It will be removed in 0.4.",
  ),
  "IndianPsiState": (
    IndianState,
    "indian_optax.IndianPsiState is deprecated: INNAprop's inertial state is now an "
    "IndianState (phi, not psi - theta). It will be removed in 0.4.",
  ),
}
"""name -> (what it gives now, the warning)."""


def get(name: str) -> Any:
  """The deprecated ``name``'s replacement, with its DeprecationWarning."""
  value, message = DEPRECATED[name]
  warnings.warn(message, DeprecationWarning, stacklevel=3)
  return value

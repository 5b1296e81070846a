"""Tracer-safe validation of hyperparameters.

Hyperparameters may be Python floats, concrete arrays, tracers (``vmap`` sweeps,
``optax.inject_hyperparams`` under ``jit``) or schedules. Only concrete values can
be checked; tracers and schedules pass through untouched, so validation never
breaks a transformation.
"""

from typing import Any, Optional

import numpy as np


def concrete_value(value: Any) -> Optional[np.ndarray]:
  """Returns ``value`` as a float64 NumPy array, or None when it is not concrete.

  None, callables (schedules) and tracers are not concrete. A tracer refuses the
  conversion with a ``TypeError`` subclass (JAX's ``ConcretizationTypeError`` or
  ``TracerArrayConversionError``), which is the signal to skip the check.
  """
  if value is None or callable(value):
    return None
  try:
    return np.asarray(value, dtype=np.float64)
  except TypeError:
    return None


def is_static_zero(value: Any) -> bool:
  """True when ``value`` is concretely zero, so the term it scales can be left out.

  Leaving the term out (rather than multiplying by zero) keeps ``update`` free of
  ``params`` and avoids ``0 * inf = nan`` on non-finite params.
  """
  array = concrete_value(value)
  return array is not None and not np.any(array)


def _show(value: Any) -> str:
  array = np.asarray(value)
  return repr(array.item()) if array.ndim == 0 else np.array2string(array, separator=", ")


def check_hyperparameter(
  owner: str,
  name: str,
  value: Any,
  *,
  greater_than: Optional[float] = None,
  at_least: Optional[float] = None,
  less_than: Optional[float] = None,
) -> None:
  """Raises ValueError naming ``owner``, ``name`` and the value if a concrete value is invalid.

  Every concrete value must be finite and lie in the given bounds. Arrays are
  checked element-wise (a concrete array of learning rates for a sweep, say).
  """
  array = concrete_value(value)
  if array is None:
    return
  if not np.all(np.isfinite(array)):
    raise ValueError(f"{owner}: {name} must be finite, got {name}={_show(value)}.")
  if greater_than is not None and not np.all(array > greater_than):
    raise ValueError(f"{owner}: {name} must be > {greater_than:g}, got {name}={_show(value)}.")
  if at_least is not None and not np.all(array >= at_least):
    raise ValueError(f"{owner}: {name} must be >= {at_least:g}, got {name}={_show(value)}.")
  if less_than is not None and not np.all(array < less_than):
    raise ValueError(f"{owner}: {name} must be < {less_than:g}, got {name}={_show(value)}.")

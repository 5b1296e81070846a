"""Tracer-safe validation of hyperparameters, one rule per hyperparameter name.

Hyperparameters may be Python floats, concrete arrays, tracers (``vmap`` sweeps,
``optax.inject_hyperparams`` under ``jit``) or schedules. Only concrete values can
be checked; tracers and schedules pass through untouched, so validation never
breaks a transformation.

Every public factory is wrapped by :func:`checks_hyperparameters`, which applies
the rule of :data:`RULES` to each argument of that name and names the factory the
user called in the error.
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Rule:
  """The range a concrete hyperparameter must lie in (every bound optional)."""

  greater_than: Optional[float] = None
  at_least: Optional[float] = None
  less_than: Optional[float] = None

  def violation(self, array: np.ndarray) -> Optional[str]:
    """What the values fail to be ("finite", "> 0", ...), or None when they are valid."""
    if not np.all(np.isfinite(array)):
      return "finite"
    for bound, holds, symbol in (
      (self.greater_than, np.greater, ">"),
      (self.at_least, np.greater_equal, ">="),
      (self.less_than, np.less, "<"),
    ):
      if bound is not None and not np.all(holds(array, bound)):
        return f"{symbol} {bound:g}"
    return None


RULES: dict[str, Rule] = {
  "learning_rate": Rule(at_least=0.0),
  "alpha": Rule(at_least=0.0),
  "beta": Rule(greater_than=0.0),
  "weight_decay": Rule(at_least=0.0),
  "decoupled_weight_decay": Rule(at_least=0.0),
  "initial_speed": Rule(at_least=0.0),
  "sigma": Rule(at_least=0.0, less_than=1.0),
  "eps": Rule(greater_than=0.0),
  "init_value": Rule(at_least=0.0),
  "power": Rule(at_least=0.0),
}
"""Hyperparameter name -> the range of its concrete values, for every factory here."""


class HyperparameterError(ValueError):
  """A concrete hyperparameter out of its range.

  Attributes:
    owner: the public function that was given it.
    name: the hyperparameter's name.
    requirement: what it must be (``"> 0"``, ``"finite"``, ``"a number"`` ...).
    value: the offending value (the first offending element of an array).
  """

  def __init__(
    self, owner: str, name: str, requirement: str, value: Any, shown: str, hint: str = ""
  ):
    super().__init__(f"{owner}: {name} must be {requirement}, got {name}={shown}.{hint}")
    self.owner, self.name, self.requirement, self.value = owner, name, requirement, value


def concrete_value(value: Any) -> Optional[np.ndarray]:
  """Returns ``value`` as a float64 NumPy array, or None when it is not concrete.

  None, callables (schedules) and tracers are not concrete. A tracer refuses the
  conversion with a ``TypeError`` subclass (JAX's ``ConcretizationTypeError`` or
  ``TracerArrayConversionError``), which is the signal to skip the check. A value
  that is no number at all (a string, say) raises ``ValueError``.
  """
  if value is None or callable(value):
    return None
  try:
    return np.asarray(value, dtype=np.float64)
  except TypeError:
    return None


def _show(value: Any) -> str:
  array = np.asarray(value)
  return repr(array.item()) if array.ndim == 0 else np.array2string(array, separator=", ")


def check_hyperparameter(owner: str, name: str, value: Any, rule: Rule) -> None:
  """Raises :class:`HyperparameterError` if a concrete ``value`` breaks ``rule``.

  Arrays are checked element-wise (a concrete array of learning rates for a
  sweep, say).
  """
  try:
    array = concrete_value(value)
  except ValueError:
    raise HyperparameterError(owner, name, "a number", value, repr(value)) from None
  if array is None:
    return
  requirement = rule.violation(array)
  if requirement is not None:
    flat = array.reshape(-1)
    offending = next(v for v in flat if rule.violation(np.asarray(v)) is not None)
    hint = ""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize <= 2:
      hint = (
        f" (a {np.dtype(value.dtype).name} value: optax.inject_hyperparams casts to the params' "
        "dtype; pass hyperparam_dtype=jnp.float32)"
      )
    raise HyperparameterError(owner, name, requirement, float(offending), _show(value), hint)


def check_state_dtype(owner: str, state_dtype: Any) -> None:
  """Raises :class:`HyperparameterError` unless ``state_dtype`` is None or a floating dtype."""
  if state_dtype is None:
    return
  try:
    dtype = jnp.dtype(state_dtype)
  except TypeError:
    dtype = None
  if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
    shown = str(dtype or state_dtype)
    raise HyperparameterError(owner, "state_dtype", "a floating dtype", state_dtype, shown)


Factory = TypeVar("Factory", bound=Callable[..., Any])


def checks_hyperparameters(factory: Factory) -> Factory:
  """Wraps a public factory so that each argument named in :data:`RULES` is checked.

  The error names the factory the user called. The wrapper keeps the factory's
  signature (``optax.inject_hyperparams`` reads it) and docstring.
  """
  signature = inspect.signature(factory)

  @functools.wraps(factory)
  def checked(*args: Any, **kwargs: Any) -> Any:
    arguments = signature.bind(*args, **kwargs).arguments
    for name, value in arguments.items():
      if name in RULES:
        check_hyperparameter(factory.__name__, name, value, RULES[name])
    check_state_dtype(factory.__name__, arguments.get("state_dtype"))
    return factory(*args, **kwargs)

  return checked  # type: ignore[return-value]

"""Tracer-safe validation of hyperparameters, one rule per hyperparameter name.

Hyperparameters may be Python numbers, scalar arrays, tracers (``vmap`` sweeps,
``optax.inject_hyperparams`` under ``jit``) or, where the rule allows, schedules. Every
value's type and shape are checked (a tracer has a shape too); only concrete values can be
checked against their range, so validation never breaks a transformation.

Every public factory is wrapped by :func:`checks_hyperparameters`, which applies
the rule of :data:`RULES` to each argument of that name and names the factory the
user called in the error.
"""

import dataclasses
import functools
import inspect
import numbers
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Rule:
  """What a hyperparameter may be: its range (every bound optional), whether it may be a
  schedule (a callable of the step count) and whether None (the option off) is allowed."""

  greater_than: Optional[float] = None
  at_least: Optional[float] = None
  less_than: Optional[float] = None
  schedule: bool = False
  optional: bool = False

  @property
  def kind(self) -> str:
    """What the value must be, in the user's words."""
    kind = "a number or a schedule" if self.schedule else "a number"
    return kind + " (or None)" if self.optional else kind

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
  "learning_rate": Rule(at_least=0.0, schedule=True),
  "alpha": Rule(at_least=0.0, schedule=True),
  "beta": Rule(greater_than=0.0, schedule=True),
  "weight_decay": Rule(at_least=0.0, schedule=True, optional=True),
  "decoupled_weight_decay": Rule(at_least=0.0, schedule=True, optional=True),
  "initial_speed": Rule(at_least=0.0, optional=True),
  # The bias correction 1 - sigma^k assumes one sigma for every step: no schedule.
  "sigma": Rule(at_least=0.0, less_than=1.0),
  "eps": Rule(greater_than=0.0),
  "init_value": Rule(at_least=0.0),
  "power": Rule(at_least=0.0),
}
"""Hyperparameter name -> the range of its concrete values, for every factory here."""


class HyperparameterError(ValueError):
  """A hyperparameter of the wrong type or shape, or a concrete one out of its range.

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
  if value is None or callable(value) or isinstance(value, jax.core.Tracer):
    return None
  try:
    array = np.asarray(value)
  except TypeError:  # a tracer of another kind
    return None
  if np.iscomplexobj(array):  # inject_hyperparams casts to complex params' dtype
    if np.any(array.imag != 0):
      raise ValueError("complex")
    array = array.real
  return np.asarray(array, dtype=np.float64)


def _show(value: Any) -> str:
  return repr(np.asarray(value).item())


def _is_number(value: Any) -> bool:
  """A real (or, from ``inject_hyperparams``, complex) number, scalar array or tracer: no
  bool, string, None or container."""
  if isinstance(value, (bool, np.bool_)):
    return False
  if isinstance(value, numbers.Number):
    return True
  dtype = getattr(value, "dtype", None)
  if dtype is None or not hasattr(value, "shape"):
    return False
  return bool(jnp.issubdtype(dtype, jnp.number)) and not jnp.issubdtype(dtype, jnp.bool_)


def check_type(owner: str, name: str, value: Any, rule: Rule) -> None:
  """Raises :class:`HyperparameterError` unless ``value`` is a scalar number (a tracer
  included), a schedule where ``rule`` allows one, or None where it is optional."""
  if value is None and rule.optional or callable(value) and rule.schedule:
    return
  if callable(value):
    requirement = f"{rule.kind}: a schedule is not supported for {name}"
    raise HyperparameterError(owner, name, requirement, value, repr(value))
  if not _is_number(value):
    raise HyperparameterError(owner, name, rule.kind, value, repr(value))
  if np.ndim(value) != 0:
    shown = f"an array of shape {tuple(np.shape(value))}"
    raise HyperparameterError(owner, name, "a scalar", value, shown)


def check_hyperparameter(owner: str, name: str, value: Any, rule: Rule) -> None:
  """Raises :class:`HyperparameterError` if ``value`` is of the wrong type or shape
  (:func:`check_type`), or concrete and out of ``rule``'s range."""
  check_type(owner, name, value, rule)
  try:
    array = concrete_value(value)
  except ValueError:
    raise HyperparameterError(owner, name, "real", value, _show(value)) from None
  if array is None:
    return
  requirement = rule.violation(array)
  if requirement is not None:
    hint = ""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize <= 2:
      hint = (
        f" (a {np.dtype(value.dtype).name} value: optax.inject_hyperparams casts to the params' "
        "dtype; pass hyperparam_dtype=jnp.float32)"
      )
    raise HyperparameterError(owner, name, requirement, float(array), _show(value), hint)


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


def is_bool(leaf: Any) -> bool:
  """A Python, NumPy or concrete 0-d JAX bool, as ``optax.masked`` takes in a mask."""
  if isinstance(leaf, (bool, np.bool_)):
    return True
  return (
    getattr(leaf, "dtype", None) == np.bool_
    and np.ndim(leaf) == 0
    and not isinstance(leaf, jax.core.Tracer)
  )


def check_mask(owner: str, mask: Any) -> None:
  """Raises :class:`HyperparameterError` unless ``mask`` is None, a callable of the params or
  a tree of bools (see :func:`is_bool`)."""
  if mask is None or callable(mask):
    return
  leaves = jax.tree.leaves(mask)
  if not leaves or not all(is_bool(leaf) for leaf in leaves):
    shown = repr(mask) if len(repr(mask)) < 80 else f"a {type(mask).__name__}"
    raise HyperparameterError(
      owner, "mask", "a tree of bools or a callable of the params", mask, shown
    )


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
    check_mask(factory.__name__, arguments.get("mask"))
    return factory(*args, **kwargs)

  return checked  # type: ignore[return-value]

"""The optimizers the main job and the benchmarks compare, and their default grids.

Each factory takes its hyperparameters as keyword arguments that may be tracers,
which is what :func:`indian_optax.app.sweep` needs. INDIAN and INNAprop are the
library's own factories: their defaults (alpha, beta, sigma, weight decay) are
read from their signatures, never copied.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

import optax

import indian_optax
from indian_optax.app.space import Range

Factory = Callable[..., optax.GradientTransformation]

FACTORIES: dict[str, Factory] = {
  "indian": indian_optax.indian,
  "innaprop": indian_optax.innaprop,
  "sgd": optax.sgd,
  "momentum": functools.partial(optax.sgd, momentum=0.9),
  "nesterov": functools.partial(optax.sgd, momentum=0.9, nesterov=True),
  "adam": optax.adam,
  "adamw": functools.partial(optax.adamw, weight_decay=1e-4),
  "adagrad": optax.adagrad,
}
"""name -> factory of ``learning_rate`` (and, for INDIAN and INNAprop, ``alpha``, ``beta`` ...)."""

SWEPT: dict[str, tuple[str, ...]] = {
  "indian": ("alpha", "beta", "learning_rate"),
  "innaprop": ("alpha", "beta", "learning_rate", "sigma"),
}
"""The hyperparameters a sweep of each inertial optimizer varies, in grid order."""

DEFAULT_LEARNING_RATES: dict[str, float] = {
  "indian": 0.1,
  "innaprop": 3e-3,
  "sgd": 0.1,
  "momentum": 0.03,
  "nesterov": 0.03,
  "adam": 3e-3,
  "adamw": 3e-3,
  "adagrad": 0.03,
}
"""A sensible single learning rate for each, on the main job's small models."""

SWEEP_GRIDS: dict[str, dict[str, list[float]]] = {
  "indian": {"alpha": [0.1, 0.5, 1.0, 2.0], "beta": [0.01, 0.1, 0.5, 1.0]},
  "innaprop": {"alpha": [0.1, 0.5, 1.0, 2.0], "beta": [0.1, 0.5, 0.9, 2.0]},
}
"""The default alpha x beta grid of ``indian-optax sweep`` (the rest at the defaults)."""

TUNE_SPACES: dict[str, dict[str, Any]] = {
  "indian": {"alpha": Range(0.05, 5.0), "beta": Range(0.005, 2.0),
             "learning_rate": Range(0.01, 1.0)},
  "innaprop": {"alpha": Range(0.05, 5.0), "beta": Range(0.05, 5.0),
               "learning_rate": Range(3e-4, 0.03)},
}  # fmt: skip
"""The default search ranges of ``indian-optax tune`` (log-uniform; the rest at the defaults):
each a decade or more around the default sweep grid."""

COMPARE_LEARNING_RATES: list[float] = [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3]
"""The learning-rate grid every optimizer is tuned on by ``indian-optax compare``."""


OPTION_NAMES: dict[str, str] = {
  "alpha": "alpha", "beta": "beta", "learning_rate": "lr", "sigma": "sigma",
  "weight_decay": "weight_decay",
}  # fmt: skip
"""Hyperparameter -> the command's option that gives it (and the summary's column)."""
HYPERPARAMETERS: dict[str, str] = {option: name for name, option in OPTION_NAMES.items()}
"""The command's option -> the hyperparameter it gives."""


def default(name: str, hyperparameter: str) -> Any:
  """The default of one of the optimizer's hyperparameters, as its factory declares it."""
  if hyperparameter == "learning_rate":
    return DEFAULT_LEARNING_RATES[name]
  return inspect.signature(FACTORIES[name]).parameters[hyperparameter].default


def default_grid(name: str) -> dict[str, list[float]]:
  """One value per swept hyperparameter (its default): what a single run of ``name`` uses."""
  return {h: [default(name, h)] for h in SWEPT.get(name, ("learning_rate",))}

"""The optimizers the main job and the benchmarks compare, as factories of traced hyperparameters.

Each factory takes ``learning_rate`` (INDIAN and INNAprop also ``alpha`` and
``beta``) as keyword arguments that may be tracers, which is what
:func:`indian_optax.sweep` needs.
"""

from collections.abc import Callable

import optax

from indian_optax._inertial import indian
from indian_optax._innaprop import innaprop

Factory = Callable[..., optax.GradientTransformation]

INERTIAL: dict[str, tuple[float, float]] = {"indian": (0.5, 0.1), "innaprop": (0.1, 0.9)}
"""The optimizers with alpha and beta, and their authors' default (alpha, beta)."""


def _indian(learning_rate, alpha=INERTIAL["indian"][0], beta=INERTIAL["indian"][1]):
  return indian(learning_rate, alpha, beta)


def _innaprop(learning_rate, alpha=INERTIAL["innaprop"][0], beta=INERTIAL["innaprop"][1]):
  return innaprop(learning_rate, alpha, beta)


FACTORIES: dict[str, Factory] = {
  "indian": _indian,
  "innaprop": _innaprop,
  "sgd": lambda learning_rate: optax.sgd(learning_rate),
  "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
  "nesterov": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9, nesterov=True),
  "adam": lambda learning_rate: optax.adam(learning_rate),
  "adamw": lambda learning_rate: optax.adamw(learning_rate, weight_decay=1e-4),
  "adagrad": lambda learning_rate: optax.adagrad(learning_rate),
}
"""name -> factory of ``learning_rate`` (and ``alpha``, ``beta`` for the INERTIAL ones)."""

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

"""A search space for :func:`~indian_optax.app.tune`: each hyperparameter a :class:`Range` or a
fixed value. Plain data (Optuna is imported only to make its distributions)."""

import math
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Union


class Range(NamedTuple):
  """A hyperparameter's search range: log-uniform by default (``low > 0``), else uniform."""

  low: float
  high: float
  log: bool = True

  def problem(self) -> Optional[str]:
    """What is wrong with the range, None if nothing."""
    if not (math.isfinite(self.low) and math.isfinite(self.high)):
      return f"the bounds must be finite, got {self.low:g}:{self.high:g}"
    if not self.low < self.high:
      return f"low must be below high, got {self.low:g}:{self.high:g}"
    if self.log and self.low <= 0:
      return (
        f"a log range needs low > 0, got {self.low:g}:{self.high:g} "
        f"(write {self.low:g}:{self.high:g}:linear for a uniform one)"
      )
    return None

  def distribution(self) -> Any:
    """The range as Optuna's ``FloatDistribution``."""
    import optuna

    return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)


Space = Mapping[str, Union[Range, float]]
"""Hyperparameter -> its range, or a fixed value."""

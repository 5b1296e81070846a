"""The step-size decay used by the INDIAN/INNA authors."""

from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from indian_optax import _checks


@_checks.checks_hyperparameters
def power_decay(
  init_value: float,
  power: float = 0.5,
  transition_steps: int = 1,
) -> optax.Schedule:
  r"""Polynomial decay of the step size, as in the INDIAN/INNA authors' code.

  .. math::

    \gamma_k = \frac{\gamma_0}{(1 + \lfloor k / T \rfloor)^p}

  With ``transition_steps`` :math:`T = 1` this is the authors' per-iteration
  ``decaypower`` :math:`p`; with :math:`T` = steps per epoch it is their per-epoch
  decay (their README uses :math:`\gamma_0 / \sqrt{\text{epoch} + 1}`). Any
  :math:`p \in (0, 1]` satisfies the convergence condition
  :math:`\gamma_k = o(1 / \log k)` of the paper.

  Args:
    init_value: the initial step size :math:`\gamma_0 \geq 0`.
    power: the decay exponent :math:`p \geq 0` (0 gives a constant step size).
    transition_steps: the number of steps :math:`T \geq 1` between decays.

  Returns:
    A schedule ``count -> step size``, usable as ``learning_rate`` anywhere in Optax.

  Example:
    >>> import indian_optax
    >>> schedule = indian_optax.power_decay(0.1, power=0.5)
    >>> [round(float(schedule(k)), 4) for k in (0, 1, 3)]
    [0.1, 0.0707, 0.05]

  References:
    Castera et al., `An Inertial Newton Algorithm for Deep Learning
    <https://arxiv.org/abs/1905.12278>`_, JMLR 2021.
  """
  steps = _checks.concrete_value(transition_steps)
  if (
    steps is None
    or steps.ndim != 0
    or not np.isfinite(steps)
    or steps < 1
    or steps != np.floor(steps)
  ):
    raise ValueError(
      "power_decay: transition_steps must be a positive integer, got "
      f"transition_steps={transition_steps!r}."
    )
  transition_steps = int(steps)

  def schedule(count: Any) -> jnp.ndarray:
    decays = jnp.floor_divide(count, transition_steps)
    # The default float type: float64 under jax_enable_x64, else float32.
    decays = jnp.asarray(decays, dtype=jnp.result_type(float))
    return init_value / (1.0 + decays) ** power

  return schedule

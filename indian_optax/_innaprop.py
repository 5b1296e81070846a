r"""INNAprop: INDIAN on RMS-scaled gradients, after decoupled weight decay.

INNAprop is :func:`indian_optax.indian` (its one step, its one state) driven by the
bias-corrected RMSprop scaling of the gradient. The scaling is Optax's
``scale_by_rms(sigma, eps, eps_in_sqrt=False, bias_correction=True)`` computed as INNAprop
needs it, not that transformation: Optax keeps :math:`v` in the params' dtype, so it has no
``state_dtype`` (bfloat16 params with a float32 :math:`v`, where :math:`\sigma = 0.999` rounds
to 1 in bfloat16), a complex :math:`v` for complex params, and arithmetic in that dtype. Here
:math:`v` is real, in its own dtype (default: the params' real dtype), the scaling is computed
in at least float32 and :math:`\hat g` is returned in the gradients' dtype, as every Optax
transformation returns its updates.
"""

from typing import Any, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import optax

from indian_optax import _checks
from indian_optax._inertial import (
  IndianState,
  _at_run_time,
  _check_gradients,
  _require_params,
  indian,
)
from indian_optax._tree_utils import floating_params, unzip_leaves

_COUNT_MAX = jnp.iinfo(jnp.int32).max  # where optax.safe_increment stops counting


class ScaleByBiasCorrectedRmsState(NamedTuple):
  """State of :func:`scale_by_bias_corrected_rms`.

  Attributes:
    count: int32 number of updates so far.
    nu: the running average of squared gradients, a tree like the params.
  """

  count: chex.Array
  nu: optax.Updates


@_checks.checks_hyperparameters
def scale_by_bias_corrected_rms(
  sigma: jax.typing.ArrayLike = 0.999,
  eps: jax.typing.ArrayLike = 1e-8,
  *,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  r"""RMSprop scaling with bias correction, as used by INNAprop.

  .. math::

    v_k = \sigma v_{k-1} + (1-\sigma) |g_k|^2, \quad
    \hat v_k = \frac{v_k}{1 - \sigma^k}, \quad
    \hat g_k = \frac{g_k}{\sqrt{\hat v_k} + \epsilon} \qquad (k = 1, 2, \dots)

  The same scaling as ``optax.scale_by_rms(sigma, eps, eps_in_sqrt=False,
  bias_correction=True)`` (a test checks the two agree), with :math:`v` in a dtype of its
  own (see the module docstring for why it is not that transformation).

  Args:
    sigma: the decay :math:`\sigma \in [0, 1)` of the average of squares.
    eps: :math:`\epsilon > 0`, added to the root in the denominator.
    state_dtype: dtype of :math:`v`.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` whose updates are
    :math:`\hat g_k` in the gradients' dtype.
  """

  def init_fn(params: optax.Params) -> ScaleByBiasCorrectedRmsState:
    params = floating_params("scale_by_bias_corrected_rms", params)
    # v averages |g|^2: real, also for complex params.
    nu = lambda p: jnp.zeros_like(p, dtype=state_dtype or jnp.finfo(p.dtype).dtype)
    return ScaleByBiasCorrectedRmsState(count=jnp.zeros([], jnp.int32), nu=jax.tree.map(nu, params))

  def update_fn(
    updates: optax.Updates,
    state: ScaleByBiasCorrectedRmsState,
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, ScaleByBiasCorrectedRmsState]:
    del params, extra_args
    _check_gradients("scale_by_bias_corrected_rms", updates, state.nu)
    count = optax.safe_increment(state.count)
    sigma_, eps_ = _at_run_time([sigma, eps], state.count.astype(float))  # see indian

    def leaf(g, nu):
      g = jnp.asarray(g)
      compute = jnp.promote_types(jnp.promote_types(g.dtype, nu.dtype), jnp.float32)
      real = jnp.finfo(compute).dtype
      # Real coefficients (inject_hyperparams casts them to complex params' dtype).
      s, g_c = jnp.asarray(jnp.real(sigma_), real), g.astype(compute)
      square = jnp.real(g_c * jnp.conj(g_c))  # |g|^2, as optax.scale_by_rms
      nu_c = nu.astype(real)
      new_nu = (nu_c + (1.0 - s) * (square - nu_c)).astype(nu.dtype)  # v_k = σv + (1 − σ)|g|²
      # 1 − σ^k as −expm1(k·log σ): `1 - s**count` loses log10(1/(1 − σ^k)) digits to the
      # subtraction (3 at σ = 0.999, k = 1), enough for float32 runs to part ways.
      bias_correction = -jnp.expm1(count.astype(real) * jnp.log1p(s - 1.0))
      nu_hat = new_nu.astype(real) / bias_correction  # v̂_k = v_k / (1 − σ^k)
      scaled = g_c / (jnp.sqrt(nu_hat) + jnp.asarray(jnp.real(eps_), real))  # ĝ_k
      return scaled.astype(g.dtype), new_nu

    scaled, nu = unzip_leaves(updates, jax.tree.map(leaf, updates, state.nu))
    return scaled, ScaleByBiasCorrectedRmsState(count=count, nu=nu)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@_checks.checks_hyperparameters
def innaprop(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.1,
  beta: optax.ScalarOrSchedule = 0.9,
  sigma: jax.typing.ArrayLike = 0.999,
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: Optional[jax.typing.ArrayLike] = 0.01,
  *,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  r"""INNAprop (Bolte, Boustany, Pauwels, Purica): INDIAN on RMS-scaled gradients.

  Decoupled weight decay, then one INDIAN step (:func:`indian`, the same step and state)
  driven by the bias-corrected RMSprop-scaled gradient :math:`\hat g_k` (see
  :func:`scale_by_bias_corrected_rms`). The authors write it

  .. math::

    \theta_k &\leftarrow (1 - \gamma_k\lambda)\,\theta_k, \qquad
    \psi_{k+1} = (1 - \tfrac{\gamma_k}{\beta})\psi_k + \gamma_k(\tfrac1\beta - \alpha)\theta_k, \\
    \theta_{k+1} &= \big(1 + \tfrac{\gamma_k(1-\alpha\beta)}{\beta-\gamma_k}\big)\theta_k
        - \tfrac{\gamma_k}{\beta-\gamma_k}\psi_{k+1} - \gamma_k\beta\,\hat g_k,

  which is the same Euler step except at :math:`\gamma_k = \beta`, where it divides by zero
  and this one does not. Memory: two param-sized buffers, like AdamW. Recommended
  :math:`(\alpha, \beta)`: (0.1, 0.9) for fast early progress (GPT-2, LoRA, ResNet-18), (2, 2)
  for long CIFAR-10 runs, (1, 1) for ResNet-50; :math:`\sigma = 0.99` for GPT-2.

  Args:
    learning_rate: the step size :math:`\gamma_k`, a float, array or schedule.
    alpha: viscous damping :math:`\alpha \ge 0`, a float, array or schedule.
    beta: Newtonian damping :math:`\beta > 0`, a float, array or schedule.
    sigma: decay :math:`\sigma \in [0, 1)` of the average of squared gradients.
    eps: :math:`\epsilon > 0` in the scaling's denominator.
    weight_decay: decoupled weight decay :math:`\lambda \ge 0` (None: off; any number, 0
      included, needs the params in ``update``).
    state_dtype: dtype of both state buffers (default: the params' dtype; :math:`v` is real
      and φ complex for complex params).

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with the state
    ``(ScaleByBiasCorrectedRmsState, IndianState)``. Its ``update`` needs the params
    unless ``weight_decay`` is None and alpha and beta are no schedules (see :func:`indian`).

  Example:
    >>> import jax, jax.numpy as jnp, optax, indian_optax
    >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
    >>> tx = indian_optax.innaprop(learning_rate=0.05, weight_decay=None)
    >>> params = jnp.zeros(3); state = tx.init(params); update = jax.jit(tx.update)
    >>> for _ in range(300):
    ...   updates, state = update(jax.grad(f)(params), state, params)
    ...   params = optax.apply_updates(params, updates)
    >>> bool(jnp.allclose(params, 1.0, atol=0.05))
    True

  References:
    Bolte, Boustany, Pauwels, Purica, `A second-order-like optimizer with adaptive gradient
    scaling for deep learning <https://arxiv.org/abs/2410.05871>`_, 2024.
  """
  scaling = scale_by_bias_corrected_rms(sigma, eps, state_dtype=state_dtype)
  inertial = indian(
    learning_rate, alpha, beta, decoupled_weight_decay=weight_decay, state_dtype=state_dtype
  )
  decay, scheduled = weight_decay is not None, callable(alpha) or callable(beta)

  def init_fn(params: optax.Params) -> tuple[ScaleByBiasCorrectedRmsState, IndianState]:
    params = floating_params("innaprop", params)
    return scaling.init(params), inertial.init(params)

  def update_fn(
    updates: optax.Updates,
    state: tuple[ScaleByBiasCorrectedRmsState, IndianState],
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, tuple[ScaleByBiasCorrectedRmsState, IndianState]]:
    del extra_args
    _check_gradients("innaprop", updates, state[1].phi)
    if params is None:
      _require_params("innaprop", {"weight_decay": decay, "a schedule of alpha or beta": scheduled})
    scaled, rms_state = scaling.update(updates, state[0])  # ĝ_k
    try:
      updates, inertial_state = inertial.update(scaled, state[1], params)  # INDIAN on ĝ_k
    except ValueError as error:  # the user called innaprop
      raise ValueError(str(error).replace("indian:", "innaprop:", 1)) from None
    if params is None and any(isinstance(h, jax.Array) for h in (alpha, beta)):
      # A step INDIAN refuses (alpha or beta changed without params) leaves v as it was too.
      refused = (inertial_state.count == state[1].count) & (state[1].count < _COUNT_MAX)
      rms_state = jax.tree.map(lambda new, old: jnp.where(refused, old, new), rms_state, state[0])
    return updates, (rms_state, inertial_state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)

r"""INNAprop: INDIAN on RMS-scaled gradients, after decoupled weight decay.

INNAprop is :func:`indian_optax.indian`'s step (the same function, the same φ) driven by the
bias-corrected RMSprop scaling of the gradient, with one state and one step count for both
(``optax.tree.get(state, "count")`` has one answer). The scaling is Optax's
``scale_by_rms(sigma, eps, eps_in_sqrt=False, bias_correction=True)`` computed as INNAprop
needs it, not that transformation: Optax keeps :math:`v` in the params' dtype, so it has no
``state_dtype`` (bfloat16 params with a float32 :math:`v`, where :math:`\sigma = 0.999` rounds
to 1 in bfloat16), a complex :math:`v` for complex params, and arithmetic in that dtype. Here
:math:`v` is real, in its own dtype (default: the params' real dtype, at least float32), the
scaling is computed
in at least float32 and :math:`\hat g` is returned in the gradients' dtype, as every Optax
transformation returns its updates.
"""

from collections.abc import Callable
from typing import Any, NamedTuple, Optional, Union

import chex
import jax
import jax.numpy as jnp
import optax

from indian_optax import _checks
from indian_optax._inertial import (
  IndianState,
  _at_run_time,
  _check_gradients,
  _indian_init,
  _indian_update,
  _Options,
  _state_dtype,
)
from indian_optax._tree_utils import floating_params, unzip_leaves


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
    return ScaleByBiasCorrectedRmsState(
      count=jnp.zeros([], jnp.int32), nu=_nu_init(params, state_dtype)
    )

  def update_fn(
    updates: optax.Updates,
    state: ScaleByBiasCorrectedRmsState,
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, ScaleByBiasCorrectedRmsState]:
    del params, extra_args
    _check_gradients("scale_by_bias_corrected_rms", updates, state.nu)
    scaled, nu = _scale_by_rms(updates, state.nu, state.count, sigma, eps)
    return scaled, ScaleByBiasCorrectedRmsState(count=optax.safe_increment(state.count), nu=nu)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _nu_init(params: optax.Params, state_dtype: Optional[jax.typing.DTypeLike]) -> optax.Updates:
  """v = 0 in the real dtype of φ's (it averages |g|^2, also for complex params): at least
  float32 by default, since in bfloat16 (1 − σ)(|g|² − v) falls below v's resolution once
  v ≈ 2^8 (1 − σ)|g|²."""
  dtype = lambda p: jnp.finfo(_state_dtype(p, state_dtype)).dtype
  return jax.tree.map(lambda p: jnp.zeros_like(p, dtype=dtype(p)), params)


def _scale_by_rms(
  updates: optax.Updates,
  nu: optax.Updates,
  count: chex.Array,
  sigma: Any,
  eps: Any,
  *,
  rounded: bool = True,
) -> tuple[optax.Updates, optax.Updates]:
  """(ĝ_k, v_k) from (g_k, v_{k−1}) at step ``count`` = k − 1: ĝ in the gradients' dtype, or
  (``rounded=False``, for INDIAN's step to read) in the dtype it was computed in."""
  k = optax.safe_increment(count)
  sigma_, eps_ = _at_run_time([sigma, eps], count.astype(float))  # see indian

  def leaf(g, nu):
    g = jnp.asarray(g)
    compute = jnp.promote_types(jnp.promote_types(g.dtype, nu.dtype), jnp.float32)
    real = jnp.finfo(compute).dtype
    # Real coefficients (inject_hyperparams casts them to complex params' dtype).
    s, g_c = jnp.asarray(jnp.real(sigma_), real), g.astype(compute)
    square = jnp.real(g_c * jnp.conj(g_c))  # |g|^2, as optax.scale_by_rms
    nu_c = nu.astype(real)
    new_nu = (nu_c + (1.0 - s) * (square - nu_c)).astype(nu.dtype)  # v_k = σv + (1 − σ)|g|²
    # 1 − σ^k as −expm1(k·log σ): `1 - s**k` loses log10(1/(1 − σ^k)) digits to the
    # subtraction (3 at σ = 0.999, k = 1), enough for float32 runs to part ways.
    bias_correction = -jnp.expm1(k.astype(real) * jnp.log1p(s - 1.0))
    nu_hat = new_nu.astype(real) / bias_correction  # v̂_k = v_k / (1 − σ^k)
    scaled = g_c / (jnp.sqrt(nu_hat) + jnp.asarray(jnp.real(eps_), real))  # ĝ_k
    return scaled.astype(g.dtype) if rounded else scaled, new_nu

  return unzip_leaves(updates, jax.tree.map(leaf, updates, nu))


class InnapropState(NamedTuple):
  r"""State of :func:`innaprop`: the RMS scaling's and INDIAN's, with one step count.

  Attributes:
    count: int32 number of updates applied so far (k; the bias correction uses k + 1).
    nu: the running average :math:`v` of squared gradients, a real tree like the params.
    phi: INDIAN's :math:`\varphi` on the scaled gradients (see :class:`IndianState`).
    alpha_beta: the scalar :math:`\alpha\beta` φ is kept in (see :class:`IndianState`).
  """

  count: chex.Array
  nu: optax.Updates
  phi: optax.Updates
  alpha_beta: chex.Array


@_checks.checks_hyperparameters
def innaprop(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.1,
  beta: optax.ScalarOrSchedule = 0.9,
  sigma: jax.typing.ArrayLike = 0.999,
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: Optional[optax.ScalarOrSchedule] = 0.01,
  *,
  mask: Optional[Union[Any, Callable[[optax.Params], Any]]] = None,
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
    weight_decay: decoupled weight decay :math:`\lambda \ge 0`, a number or a schedule
      (None: off; any number, 0 included, needs the params in ``update``).
    mask: which params the weight decay applies to, as in ``optax.adamw``: a tree of bools
      with the params' structure (or a prefix of it), or a callable of the params returning
      one. None: every param. The usual choice for a transformer leaves biases and
      normalisation scales undecayed (see the example below).
    state_dtype: dtype of both state buffers (default: the params' dtype, at least float32;
      :math:`v` is real and φ complex for complex params).

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with an :class:`InnapropState`. Its
    updates come in the gradients' dtype. Its ``update`` needs the params unless
    ``weight_decay`` is None and alpha and beta are no schedules (see :func:`indian`).

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

    Weight decay on the matrices only (no decay of biases and normalisation scales):

    >>> decay_matrices = lambda params: jax.tree.map(lambda p: p.ndim > 1, params)
    >>> tx = indian_optax.innaprop(1e-3, weight_decay=0.01, mask=decay_matrices)

  References:
    Bolte, Boustany, Pauwels, Purica, `A second-order-like optimizer with adaptive gradient
    scaling for deep learning <https://arxiv.org/abs/2410.05871>`_, 2024.
  """
  options = _Options(
    learning_rate, alpha, beta, decoupled_weight_decay=weight_decay, mask=mask,
    state_dtype=state_dtype, decoupled_name="weight_decay",
  )  # fmt: skip

  def init_fn(params: optax.Params) -> InnapropState:
    inertial = _indian_init("innaprop", options, params)
    nu = _nu_init(floating_params("innaprop", params), state_dtype)
    return InnapropState(inertial.count, nu, inertial.phi, inertial.alpha_beta)

  def update_fn(
    updates: optax.Updates,
    state: InnapropState,
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, InnapropState]:
    del extra_args
    _check_gradients("innaprop", updates, state.phi)
    # ĝ_k (as precise as the step computes it: not rounded to bfloat16 gradients), v_k
    scaled, nu = _scale_by_rms(updates, state.nu, state.count, sigma, eps, rounded=False)
    inertial = IndianState(state.count, state.phi, state.alpha_beta)
    steps, inertial, refused = _indian_update("innaprop", options, scaled, inertial, params)
    if refused is not None:  # a refused step leaves v as it was too
      nu = jax.tree.map(lambda new, old: jnp.where(refused, old, new), nu, state.nu)
    steps = jax.tree.map(lambda u, g: u.astype(jnp.asarray(g).dtype), steps, updates)
    return steps, InnapropState(inertial.count, nu, inertial.phi, inertial.alpha_beta)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)

"""INDIAN (a.k.a. INNA), the inertial Newton step, as one Optax transformation.

The paper's iteration (Castera et al., 2021) keeps :math:`(\\theta, \\psi)`. This module keeps
:math:`\\varphi = \\psi - (1 - \\alpha\\beta)\\theta` instead, with which the step is

.. math::

  u_k = -\\gamma_k\\big(\\tfrac1\\beta\\varphi_k + \\beta g_k\\big), \\qquad
  \\varphi_{k+1} = (1 - \\alpha\\gamma_k)\\varphi_k + \\gamma_k\\beta(1 - \\alpha\\beta)\\, g_k,

exactly the paper's recursion (:math:`u_k = \\theta_{k+1} - \\theta_k`). Why φ, against ψ − θ
(which the INNAprop authors' rearrangement suggests) or ψ itself:

* **No params needed.** Plain INDIAN reads neither θ nor ψ: ``update(grads, state)`` works in
  custom loops and wrappers that pass no params. Every other state of the form ψ − cθ needs θ
  in the update (ψ − θ: :math:`u_k = -\\gamma_k(\\alpha\\theta_k + \\ldots)`).
* **Exact everywhere.** :math:`u_k` and :math:`\\varphi_{k+1}` are both formed from
  :math:`\\varphi_k`: nothing is divided by a quantity that can vanish (reading :math:`u_k`
  back from :math:`\\varphi_{k+1}` divides by :math:`1 - \\alpha\\gamma_k`, 0 inside the domain).
* **Small in low precision.** φ starts at zero and stays of the order of the gradient (its
  fixed point under a constant gradient is β(1 − αβ)g/α); ψ and ψ − θ are of the order of θ,
  so a bfloat16 state rounds them 2^-8 relative to |θ| at each step.
* **One formula.** Every way a hyperparameter arrives (Python float, NumPy or JAX array,
  traced under ``jit``/``vmap``, ``optax.inject_hyperparams``, a schedule) takes the same
  lines, :func:`_indian_leaf`: the same values give the same bits. The scalars reach it as
  run-time values (:func:`_at_run_time`) and no sum in it has two products an FMA could fuse
  either way, so neither XLA's constant folding nor LLVM's contraction can round one way of
  passing them otherwise than another.

The cost of that choice on XLA:CPU (``benchmarks/RESULTS.md``): CPU loops write one output
each, and the params' loop reads the old φ that the state's loop overwrites in place, so the
default copy insertion copies φ once per leaf and step. XLA's region analysis orders the two
loops instead (``XLA_FLAGS=--xla_cpu_copy_insertion_use_region_analysis=true``, set before
JAX starts): no copy. When the state's loop also reads θ (a weight decay, α or β that may
change), each loop reads what the other overwrites and one or two state-sized copies per leaf
remain on the CPU with either setting. XLA:GPU writes θ and φ in one fused loop and copies
nothing.

When α or β change between steps (schedules, or values changed under
``inject_hyperparams``), φ is carried to the new basis, :math:`\\varphi \\mathrel{+}=
(\\alpha_k\\beta_k - \\alpha_{k-1}\\beta_{k-1})\\theta_k`, which needs the params.
"""

import functools
import warnings
from typing import Any, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from indian_optax import _checks
from indian_optax._tree_utils import floating_params, unzip_leaves


class IndianState(NamedTuple):
  """State of :func:`indian` (and of the inertial half of :func:`innaprop`).

  Attributes:
    count: int32 number of updates applied so far, the :math:`k` of :math:`\\gamma_k`.
    phi: a tree like the params (dtype ``state_dtype``) holding
      :math:`\\varphi_k = \\psi_k - (1 - \\alpha\\beta)\\,\\theta_k`, zero at ``init``;
      :func:`psi_from_state` gives back :math:`\\psi`.
    alpha_beta: the scalar :math:`\\alpha\\beta` of the last step (:math:`\\alpha_0\\beta_0`
      after ``init``), the basis φ is expressed in. Always present, so the state's structure
      never depends on how alpha and beta were passed.
  """

  count: chex.Array
  phi: optax.Updates
  alpha_beta: chex.Array


class _Scalars(NamedTuple):
  """The scalars of step k. An option that is off is None and leaves no line in the step."""

  learning_rate: jax.Array
  alpha: jax.Array
  beta: jax.Array
  first_step: jax.Array  # k == 0
  weight_decay: Optional[jax.Array] = None
  decoupled_weight_decay: Optional[jax.Array] = None
  initial_speed: Optional[jax.Array] = None
  basis_change: Optional[jax.Array] = None  # α_kβ_k − α_{k−1}β_{k−1}
  refused: Optional[jax.Array] = None  # a change of basis without θ: the step is refused


def _indian_leaf(
  g: jax.Array,
  phi: jax.Array,
  theta: Any = None,
  *,
  scalars: _Scalars,
  state_holds_params_dtype: bool = True,
) -> tuple[jax.Array, jax.Array]:
  """One leaf of INDIAN's step: (u_k, φ_{k+1}) from (g_k, φ_k, θ_k), in one formula.

  Computed in at least float32. u_k comes back as precise as the gradient and the params,
  like Optax's own (the params' dtype is φ's unless ``state_dtype`` was given, so the update
  is the same with or without params), φ_{k+1} in the state's dtype. Each sum has at most one
  product a compiler may fuse into an FMA (hence ``φ - (αγ)φ`` for ``(1 - αγ)φ``), so the
  rounding does not depend on the program around the step.
  """
  g, stored = jnp.asarray(g), phi.dtype
  compute = jnp.promote_types(jnp.promote_types(g.dtype, stored), jnp.float32)
  like = theta if theta is not None else (phi if state_holds_params_dtype else g)
  out = jnp.promote_types(g.dtype, jnp.asarray(like).dtype)
  real = lambda x: jnp.asarray(jnp.real(x), jnp.finfo(compute).dtype)  # complex params
  s = scalars
  lr, a, b = real(s.learning_rate), real(s.alpha), real(s.beta)
  g, phi = g.astype(compute), phi.astype(compute)
  theta = None if theta is None else jnp.asarray(theta).astype(compute)
  if s.basis_change is not None:  # zero unless α·β changed since the last step
    phi = phi + real(s.basis_change) * theta
  if s.initial_speed is not None:  # φ_0 = β(c − β) g_0
    phi = phi + jnp.where(s.first_step, b * (real(s.initial_speed) - b), 0.0) * g
  decayed = theta
  if s.decoupled_weight_decay is not None:  # θ̃ = (1 − γλ)θ first, ψ stays: φ += (1 − αβ)γλθ
    lam = real(s.decoupled_weight_decay)
    phi = phi + ((1.0 - a * b) * lr * lam) * theta
    decayed = theta - (lr * lam) * theta
  if s.weight_decay is not None:  # γwθ̃ added to the θ step: the gradient g + (w/β)θ̃
    g = g + (real(s.weight_decay) / b) * decayed
  step = phi + (b * b) * g  # β(φ_k/β + βg_k)
  if s.decoupled_weight_decay is not None:
    step = step + (b * lam) * theta  # and γλθ = (γ/β)·βλθ
  u = -(lr / b) * step  # u_k = −γλθ_k − γ(φ_k/β + βg_k)
  new_phi = (phi - (a * lr) * phi) + (lr * b * (1.0 - a * b)) * g  # φ_{k+1}
  if s.refused is not None:
    u, new_phi = jnp.where(s.refused, jnp.nan, u), jnp.where(s.refused, phi, new_phi)
  return u.astype(out), new_phi.astype(stored)


def _value_at(hyperparameter: Any, count: chex.Array) -> Any:
  """A hyperparameter's value at step ``count`` (a schedule is called)."""
  return hyperparameter(count) if callable(hyperparameter) else hyperparameter


@_checks.checks_hyperparameters
def indian(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.5,
  beta: optax.ScalarOrSchedule = 0.1,
  *,
  weight_decay: Optional[jax.typing.ArrayLike] = None,
  decoupled_weight_decay: Optional[jax.typing.ArrayLike] = None,
  initial_speed: Optional[jax.typing.ArrayLike] = None,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  r"""INDIAN (a.k.a. INNA), the inertial Newton algorithm of Castera et al.

  Explicit Euler steps of :math:`\ddot\theta + \alpha\dot\theta + \beta\nabla^2 J(\theta)
  \dot\theta + \nabla J(\theta) = 0`, which damps each direction in proportion to its curvature
  without forming a Hessian. With step sizes :math:`\gamma_k` and gradients :math:`g_k`:

  .. math::

    \theta_{k+1} &= \theta_k + \gamma_k\big[(\tfrac1\beta - \alpha)\theta_k
        - \tfrac1\beta\psi_k - \beta g_k\big], \\
    \psi_{k+1} &= \psi_k + \gamma_k\big[(\tfrac1\beta - \alpha)\theta_k - \tfrac1\beta\psi_k\big],

  from :math:`\psi_0 = (1-\alpha\beta)\theta_0 + \beta(c - \beta)g_0` (initial velocity
  :math:`-c\,g_0`). The state keeps :math:`\varphi = \psi - (1-\alpha\beta)\theta` (see the
  module docstring for why), with which

  .. math::

    u_k = -\gamma_k\big(\tfrac1\beta\varphi_k + \beta g_k\big), \qquad
    \varphi_{k+1} = (1 - \alpha\gamma_k)\varphi_k + \gamma_k\beta(1 - \alpha\beta)\, g_k,
    \qquad \varphi_0 = \beta(c - \beta)\, g_0 .

  The learning rate lives inside, as in ``optax.contrib.scale_by_madgrad``: scaling the updates
  afterwards is not INDIAN at a smaller step (hence no ``scale_by_indian``: the name, kept for
  one release, is deprecated).

  Args:
    learning_rate: the step size :math:`\gamma_k \ge 0`: float, array or schedule (e.g.
      :func:`power_decay`). Keep :math:`\alpha\gamma_k < 2`, in practice well below 1.
    alpha: viscous damping :math:`\alpha \ge 0` (high: slow and stable; low: fast, may
      diverge; the authors' default 0.5), or a schedule.
    beta: Newtonian (Hessian) damping :math:`\beta > 0` (try powers of ten), or a schedule.
    weight_decay: coupled decay :math:`w \ge 0` (INNA's): :math:`\gamma_k w\theta_k` in
      the θ step only, i.e. the gradient :math:`g_k + \tfrac{w}{\beta}\theta_k`. None: off
      (any number, 0 included, is on and needs the params).
    decoupled_weight_decay: :math:`\lambda \ge 0` (INNAprop's): :math:`\theta_k \leftarrow
      (1 - \gamma_k\lambda)\theta_k` first, ψ untouched. None: off (0 is on).
    initial_speed: :math:`c \ge 0`, the initial velocity :math:`-c\,g_0` (None: :math:`c =
      \beta`, the authors' :math:`\psi_0 = (1-\alpha\beta)\theta_0`).
    state_dtype: dtype of φ (default: the params' dtype).

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianState`. Its
    ``update`` needs the params when a weight decay is on, when alpha or beta is a
    schedule (``ValueError`` without them) and when a traced alpha or beta changes: without
    params that step is refused, its updates are NaN and the state is left as it was (a
    ``ValueError`` where the change is concrete).

  Example:
    >>> import jax, jax.numpy as jnp, optax, indian_optax
    >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
    >>> tx, params = indian_optax.indian(learning_rate=0.1, alpha=0.5, beta=0.1), jnp.zeros(3)
    >>> state = tx.init(params); update = jax.jit(tx.update)
    >>> for _ in range(300):
    ...   updates, state = update(jax.grad(f)(params), state)
    ...   params = optax.apply_updates(params, updates)
    >>> print(jnp.round(params, 3))
    [1. 1. 1.]

  References:
    Castera, Bolte, Févotte, Pauwels, `An Inertial Newton Algorithm for Deep Learning
    <https://arxiv.org/abs/1905.12278>`_, JMLR 22(134), 2021.
  """
  # An option is on when given, whatever its value: a 0.0 as a float or a tracer takes the
  # same lines (a term left out when zero would round the update otherwise).
  coupled, decoupled = weight_decay is not None, decoupled_weight_decay is not None
  # Python and NumPy numbers are constants; a JAX array may be a tracer, or an injected value
  # that changes between steps; a schedule changes by design.
  may_change = [callable(h) or isinstance(h, jax.Array) for h in (alpha, beta)]
  scheduled = any(callable(h) for h in (alpha, beta))
  leaf_step = functools.partial(_indian_leaf, state_holds_params_dtype=state_dtype is None)

  def init_fn(params: optax.Params) -> IndianState:
    params = floating_params("indian", params)
    phi = jax.tree.map(lambda p: jnp.zeros_like(p, dtype=_state_dtype(p, state_dtype)), params)
    count = jnp.zeros([], jnp.int32)
    product = _alpha_beta(_value_at(alpha, count), _value_at(beta, count))
    return IndianState(count=count, phi=phi, alpha_beta=product)

  def update_fn(
    updates: optax.Updates,
    state: IndianState,
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, IndianState]:
    del extra_args
    _check_gradients("indian", updates, state.phi)
    if params is None:
      _require_params("indian", {"weight_decay": coupled, "decoupled_weight_decay": decoupled,
                                 "a schedule of alpha or beta": scheduled})  # fmt: skip
    count = state.count
    hyper = (learning_rate, alpha, beta, weight_decay, decoupled_weight_decay, initial_speed)
    lr, a, b, w, lam, c = _at_run_time([_value_at(h, count) for h in hyper], state.alpha_beta)
    alpha_beta = _alpha_beta(a, b)
    basis_change, refused = None, None
    if any(may_change):  # φ_k in the basis of this step: φ += (α_kβ_k − α_{k−1}β_{k−1}) θ_k
      basis_change = jnp.where(count == 0, 0.0, alpha_beta - state.alpha_beta)
      if params is None:
        refused, basis_change = _refuse_a_change(basis_change), None
    scalars = _Scalars(
      learning_rate=lr, alpha=a, beta=b, first_step=count == 0, weight_decay=w,
      decoupled_weight_decay=lam, initial_speed=c, basis_change=basis_change, refused=refused,
    )  # fmt: skip
    step = functools.partial(leaf_step, scalars=scalars)
    trees = (updates, state.phi) if params is None else (updates, state.phi, params)
    new_updates, phi = unzip_leaves(updates, jax.tree.map(step, *trees))
    count_next = optax.safe_increment(count)
    if refused is not None:
      count_next = jnp.where(refused, count, count_next)
      alpha_beta = jnp.where(refused, state.alpha_beta, alpha_beta)
    return new_updates, IndianState(count=count_next, phi=phi, alpha_beta=alpha_beta)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _at_run_time(values: list[Any], opaque: chex.Array) -> list[Any]:
  """The hyperparameters as run-time values, whether they came as constants or tracers.

  A constant the compiler can see is folded into the code around it: XLA rewrites ``x / c``
  as ``x * (1 / c)``, and LLVM contracts multiply-adds into FMAs around a known constant
  otherwise than around a run-time value. Either way the same Python float, and the same
  value injected or swept under ``vmap``, gave other last bits (``tests/core/test_same_bits.py``).
  Selecting on ``opaque == opaque``, true for a non-NaN run-time scalar ``opaque``, hides the
  constant; a NaN ``opaque`` makes every value NaN, never zero. (INDIAN's predicate must not
  depend on the step count: inside its ``count == 0`` branch the compiler would know
  ``count >= 0`` and see the constants again. It reads the state's ``alpha_beta``.)
  """
  run_time = opaque == opaque
  return [None if v is None else jnp.where(run_time, v, jnp.nan) for v in values]


def _state_dtype(param: Any, state_dtype: Optional[jax.typing.DTypeLike]) -> Any:
  """φ's dtype for a leaf: the params' by default; a real ``state_dtype`` made complex for
  complex params (φ of a complex param is complex)."""
  if state_dtype is None:
    return param.dtype
  if jnp.issubdtype(param.dtype, jnp.complexfloating):
    return jnp.promote_types(state_dtype, jnp.complex64)
  return jnp.dtype(state_dtype)


def _alpha_beta(alpha: Any, beta: Any) -> jax.Array:
  """The product φ's basis is kept as, real (inject_hyperparams casts to complex params)."""
  return jnp.asarray(jnp.real(alpha), float) * jnp.asarray(jnp.real(beta), float)


def _require_params(owner: str, needs: dict[str, bool]) -> None:
  """Raises the ValueError of an ``update`` called without params by what needs them
  (``needs``: what, in the user's words -> whether it is set)."""
  culprits = [name for name, needed in needs.items() if needed]
  if culprits:
    verb = "needs" if len(culprits) == 1 else "need"
    raise ValueError(
      f"{owner}: {' and '.join(culprits)} {verb} the params: call update(updates, state, params)."
    )


def _refuse_a_change(basis_change: jax.Array) -> jax.Array:
  """Whether a step without params must be refused: alpha*beta changed, and θ is not there."""
  change = _checks.concrete_value(basis_change)
  if change is not None and np.any(change != 0):
    raise ValueError(
      "indian: alpha*beta changed since the last step and phi must be carried to the new "
      "value with the params: call update(updates, state, params)."
    )
  return basis_change != 0


def _check_gradients(owner: str, updates: optax.Updates, memory: optax.Updates) -> None:
  """The gradients have the params' tree and shapes (their dtype may differ: mixed precision)."""
  message = f"{owner}: the gradients must match the params the state was built from"
  chex.assert_trees_all_equal_structs(updates, memory, custom_message=message)
  chex.assert_trees_all_equal_shapes(updates, memory, custom_message=message)


def psi_from_state(
  state: optax.OptState,
  params: optax.Params,
  *,
  alpha: Any = None,
  beta: Any = None,
) -> optax.Params:
  r"""The paper's auxiliary variable :math:`\psi_k = \varphi_k + (1-\alpha\beta)\theta_k`.

  The :math:`\alpha\beta` is the state's own (``IndianState.alpha_beta``, the basis φ was
  kept in at the last step), so it is right after any change of alpha or beta.

  Args:
    state: an :class:`IndianState`, or any optimizer state holding exactly one (a chain,
      ``inject_hyperparams``, ``MultiSteps``, :func:`innaprop` ...).
    params: the current params :math:`\theta_k`.
    alpha: deprecated and ignored (the state holds :math:`\alpha\beta`).
    beta: deprecated and ignored.

  Returns:
    :math:`\psi_k`, a tree like the params, in the params' dtype. Before the first update it
    is :math:`(1-\alpha_0\beta_0)\theta_0`, the authors' initialisation; with
    ``initial_speed`` :math:`c \neq \beta` the paper's :math:`\psi_0` also involves
    :math:`g_0`, which only the first update sees.

  Example:
    >>> import jax.numpy as jnp, indian_optax
    >>> tx = indian_optax.indian(0.1, alpha=0.5, beta=0.1)
    >>> params = jnp.ones(2)
    >>> indian_optax.psi_from_state(tx.init(params), params)
    Array([0.95, 0.95], dtype=float32)
  """
  if alpha is not None or beta is not None:
    warnings.warn(
      "psi_from_state: alpha and beta are read from the state; passing them is deprecated "
      "and they are ignored (they will be removed in 0.4).",
      DeprecationWarning,
      stacklevel=2,
    )
  is_inertial = lambda node: isinstance(node, IndianState)
  found = [s for s in jax.tree.leaves(state, is_leaf=is_inertial) if is_inertial(s)]
  if len(found) != 1:
    raise ValueError(
      f"psi_from_state: expected exactly one IndianState in the state, found {len(found)}."
    )
  (inertial,) = found
  return jax.tree.map(
    lambda phi, theta: (phi + (1.0 - inertial.alpha_beta) * theta).astype(theta.dtype),
    inertial.phi, params,
  )  # fmt: skip

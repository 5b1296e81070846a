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
from collections.abc import Callable
from typing import Any, NamedTuple, Optional, Union

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
  g: jax.Array, phi: jax.Array, theta: Any = None, *, scalars: _Scalars
) -> tuple[jax.Array, jax.Array]:
  """One leaf of INDIAN's step: (u_k, φ_{k+1}) from (g_k, φ_k, θ_k), in one formula.

  Computed in at least float32. u_k comes back in the gradient's dtype, with or without
  params (as Optax's updates: the params' dtype in ordinary training), φ_{k+1} in the
  state's. Each sum has at most one product a compiler may fuse into an FMA (hence
  ``φ - (αγ)φ`` for ``(1 - αγ)φ``), so the rounding does not depend on the program around
  the step.
  """
  g, stored = jnp.asarray(g), phi.dtype
  compute = jnp.promote_types(jnp.promote_types(g.dtype, stored), jnp.float32)
  out = g.dtype if jnp.issubdtype(g.dtype, jnp.inexact) else compute
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
  if s.refused is not None:  # the params and the state stay as they were
    u, new_phi = jnp.where(s.refused, 0.0, u), jnp.where(s.refused, phi, new_phi)
  return u.astype(out), new_phi.astype(stored)


class _Options(NamedTuple):
  """The arguments of :func:`indian` (INNAprop passes its own), as the update reads them."""

  learning_rate: optax.ScalarOrSchedule
  alpha: optax.ScalarOrSchedule
  beta: optax.ScalarOrSchedule
  weight_decay: Optional[optax.ScalarOrSchedule] = None
  decoupled_weight_decay: Optional[optax.ScalarOrSchedule] = None
  mask: Any = None
  initial_speed: Optional[jax.typing.ArrayLike] = None
  state_dtype: Optional[jax.typing.DTypeLike] = None
  decoupled_name: str = "decoupled_weight_decay"  # the user's name (INNAprop: weight_decay)


@_checks.checks_hyperparameters
def indian(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.5,
  beta: optax.ScalarOrSchedule = 0.1,
  *,
  weight_decay: Optional[optax.ScalarOrSchedule] = None,
  decoupled_weight_decay: Optional[optax.ScalarOrSchedule] = None,
  mask: Optional[Union[Any, Callable[[optax.Params], Any]]] = None,
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
    weight_decay: coupled decay :math:`w \ge 0` (INNA's), a number or a schedule:
      :math:`\gamma_k w\theta_k` in the θ step only, i.e. the gradient
      :math:`g_k + \tfrac{w}{\beta}\theta_k`. None: off (any number, 0 included, is on and
      needs the params).
    decoupled_weight_decay: :math:`\lambda \ge 0` (INNAprop's), a number or a schedule:
      :math:`\theta_k \leftarrow (1 - \gamma_k\lambda)\theta_k` first, ψ untouched. None: off
      (0 is on).
    mask: which params the decays apply to, as in ``optax.adamw``: a tree of bools with the
      params' structure (or a prefix of it), or a callable of the params returning one.
      None: every param. Params left out take the plain INDIAN step.
    initial_speed: :math:`c \ge 0`, the initial velocity :math:`-c\,g_0` (None: :math:`c =
      \beta`, the authors' :math:`\psi_0 = (1-\alpha\beta)\theta_0`).
    state_dtype: dtype of φ. Default: the params' dtype, and float32 for params of fewer
      bits (bfloat16, float16), whose φ would otherwise stop growing over long runs (see
      ``docs/algorithm.md``, "Low precision").

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianState`. Its
    updates come in the gradients' dtype (the params' in ordinary training). Its ``update``
    needs the params when a weight decay is on or alpha or beta is a schedule (a
    ``ValueError`` without them), and when a traced alpha or beta changes: a step without
    params then leaves the state as it was, returns zero updates and fails at run time
    (JAX raises a ``JaxRuntimeError`` carrying the message where the step's results are
    used; a ``ValueError`` at once where the change is concrete).

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
  options = _Options(
    learning_rate, alpha, beta, weight_decay, decoupled_weight_decay, mask, initial_speed,
    state_dtype,
  )  # fmt: skip

  def init_fn(params: optax.Params) -> IndianState:
    return _indian_init("indian", options, params)

  def update_fn(
    updates: optax.Updates,
    state: IndianState,
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, IndianState]:
    del extra_args
    _check_gradients("indian", updates, state.phi)
    updates, state, _ = _indian_update("indian", options, updates, state, params)
    return updates, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _indian_init(owner: str, options: _Options, params: optax.Params) -> IndianState:
  """The state before the first step: φ = 0 (shape-only: works under ``jax.eval_shape``)."""
  params = floating_params(owner, params)
  dtype = lambda p: _state_dtype(p, options.state_dtype)
  phi = jax.tree.map(lambda p: jnp.zeros_like(p, dtype=dtype(p)), params)
  count = jnp.zeros([], jnp.int32)
  a, b = (_value_at(owner, name, getattr(options, name), count) for name in ("alpha", "beta"))
  return IndianState(count=count, phi=phi, alpha_beta=_alpha_beta(a, b))


def _indian_update(
  owner: str,
  options: _Options,
  updates: optax.Updates,
  state: IndianState,
  params: Optional[optax.Params],
) -> tuple[optax.Updates, IndianState, Optional[jax.Array]]:
  """INDIAN's step on ``updates`` (the gradients, or INNAprop's scaled ones) for ``owner``.

  Returns the updates, the new state and whether the step was refused (None where it cannot
  be: a refused step leaves the state as it was and returns zero updates).
  """
  o = options
  hyper = [
    ("learning_rate", o.learning_rate), ("alpha", o.alpha), ("beta", o.beta),
    ("weight_decay", o.weight_decay), (o.decoupled_name, o.decoupled_weight_decay),
    ("initial_speed", o.initial_speed),
  ]  # fmt: skip
  # An option is on when given, whatever its value: a 0.0 as a float or a tracer takes the
  # same lines (a term left out when zero would round the update otherwise).
  scheduled = callable(o.alpha) or callable(o.beta)
  if params is None:
    needs = [name for name, value in hyper[3:5] if value is not None]
    _require_params(owner, needs + ["a schedule of alpha or beta"] * scheduled)
  count = state.count
  values = [_value_at(owner, name, value, count) for name, value in hyper]
  lr, a, b, w, lam, c = _at_run_time(values, state.alpha_beta)
  alpha_beta = _alpha_beta(a, b)
  basis_change, refused = None, None
  # Python and NumPy numbers are constants; a JAX array may be a tracer, or an injected value
  # that changes between steps; a schedule changes by design.
  if any(callable(h) or isinstance(h, jax.Array) for h in (o.alpha, o.beta)):
    # φ_k in the basis of this step: φ += (α_kβ_k − α_{k−1}β_{k−1}) θ_k
    basis_change = jnp.where(count == 0, 0.0, alpha_beta - state.alpha_beta)
    if params is None:
      refused, basis_change = _refuse_a_change(owner, basis_change), None
  scalars = _Scalars(
    learning_rate=lr, alpha=a, beta=b, first_step=count == 0, weight_decay=w,
    decoupled_weight_decay=lam, initial_speed=c, basis_change=basis_change, refused=refused,
  )  # fmt: skip
  undecayed = scalars._replace(weight_decay=None, decoupled_weight_decay=None)
  if params is None:
    leaves = jax.tree.map(functools.partial(_indian_leaf, scalars=scalars), updates, state.phi)
  else:
    decayed = _decay_mask(owner, o.mask, params)
    step = lambda g, phi, theta, on: _indian_leaf(
      g, phi, theta, scalars=scalars if on else undecayed
    )
    leaves = jax.tree.map(step, updates, state.phi, params, decayed)
  new_updates, phi = unzip_leaves(updates, leaves)
  count_next = optax.safe_increment(count)
  if refused is not None:
    count_next = jnp.where(refused, count, count_next)
    alpha_beta = jnp.where(refused, state.alpha_beta, alpha_beta)
  return new_updates, IndianState(count=count_next, phi=phi, alpha_beta=alpha_beta), refused


def _value_at(owner: str, name: str, hyperparameter: Any, count: chex.Array) -> Any:
  """A hyperparameter's value at step ``count`` (a schedule is called, and must give a
  scalar)."""
  if not callable(hyperparameter):
    return hyperparameter
  value = hyperparameter(count)
  if jnp.ndim(value) != 0:
    shown = f"a schedule returning an array of shape {jnp.shape(value)}"
    raise _checks.HyperparameterError(owner, name, "a scalar", value, shown)
  return value


def _decay_mask(owner: str, mask: Any, params: optax.Params) -> Any:
  """A bool per leaf of the params: whether the weight decays apply to it (``mask``: None, a
  tree of bools, or a prefix of the params' tree, or a callable of the params giving one)."""
  if mask is None:
    return jax.tree.map(lambda _: True, params)
  tree = mask(params) if callable(mask) else mask
  if not all(_checks.is_bool(leaf) for leaf in jax.tree.leaves(tree)):
    raise ValueError(f"{owner}: mask(params) must give a tree of bools, got {tree!r:.200}.")
  try:
    return jax.tree.map(lambda on, sub: jax.tree.map(lambda _: bool(on), sub), tree, params)
  except ValueError:
    raise ValueError(
      f"{owner}: mask must have the params' tree structure or a prefix of it: the mask is "
      f"{jax.tree.structure(tree)}, the params {jax.tree.structure(params)}."
    ) from None


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
  """φ's dtype for a leaf: the params' by default, at least float32 (a bfloat16 φ stops
  growing where its increments fall below half its resolution); a real ``state_dtype`` made
  complex for complex params (φ of a complex param is complex)."""
  if state_dtype is None:
    return jnp.promote_types(param.dtype, jnp.float32)
  if jnp.issubdtype(param.dtype, jnp.complexfloating):
    return jnp.promote_types(state_dtype, jnp.complex64)
  return jnp.dtype(state_dtype)


def _alpha_beta(alpha: Any, beta: Any) -> jax.Array:
  """The product φ's basis is kept as, real (inject_hyperparams casts to complex params)."""
  return jnp.asarray(jnp.real(alpha), float) * jnp.asarray(jnp.real(beta), float)


def _require_params(owner: str, culprits: list[str]) -> None:
  """Raises the ValueError of an ``update`` called without params by what needs them
  (``culprits``, in the user's words), if anything does."""
  if culprits:
    verb = "needs" if len(culprits) == 1 else "need"
    raise ValueError(
      f"{owner}: {' and '.join(culprits)} {verb} the params: call update(updates, state, params)."
    )


def _changed_without_params(owner: str) -> str:
  return (
    f"{owner}: alpha or beta changed since the last step, and carrying the momentum over to "
    "the new values needs the params: call update(updates, state, params)."
  )


def _raise_if_refused(owner: str, refused: Any) -> None:
  """Host side of a refused step (see :func:`_refuse_a_change`)."""
  if np.any(refused):
    raise ValueError(
      _changed_without_params(owner)
      + " This step was refused: its updates are zero and the state is as it was."
    )


def _refuse_a_change(owner: str, basis_change: jax.Array) -> jax.Array:
  """Whether a step without params must be refused: alpha*beta changed, and θ is not there.

  A concrete change raises at once. A traced one is known only at run time: the step then
  returns zero updates, leaves the state as it was, and a host callback raises (the
  computation fails with the message, a ``JaxRuntimeError``), on that path alone. Only this
  path (no params, alpha or beta a JAX array) compiles the callback, which JAX does not keep
  in its persistent compilation cache.
  """
  change = _checks.concrete_value(basis_change)
  if change is not None and np.any(change != 0):
    raise ValueError(_changed_without_params(owner))
  refused = basis_change != 0
  _stop_if_refused(owner, refused)
  return refused


def _stop_if_refused(owner: str, refused: jax.Array) -> None:
  """Raises on the host where ``refused``; under ``vmap``, once for the whole batch (a
  ``cond`` of batched predicate would run the callback on every step, once per column)."""

  @jax.custom_batching.custom_vmap
  def stop(refused: jax.Array) -> jax.Array:
    callback = functools.partial(_raise_if_refused, owner)
    jax.lax.cond(refused, lambda r: jax.debug.callback(callback, r), lambda r: None, refused)
    return refused

  @stop.def_vmap
  def stop_any(axis_size: int, in_batched: list[bool], refused: jax.Array) -> Any:
    del axis_size
    stop(jnp.any(refused))
    return refused, in_batched[0]

  stop(refused)


def _check_gradients(owner: str, updates: optax.Updates, memory: optax.Updates) -> None:
  """The gradients have the params' tree and shapes (their dtype may differ: mixed precision)."""
  start = f"{owner}: the gradients must have the tree and shapes of the params the state was built"
  got, expected = jax.tree.structure(updates), jax.tree.structure(memory)
  if got != expected:  # type: ignore[operator]
    raise ValueError(f"{start} from: got {got}, expected {expected}.")
  for (path, g), m in zip(
    jax.tree_util.tree_flatten_with_path(updates)[0], jax.tree.leaves(memory), strict=True
  ):
    if jnp.shape(g) != jnp.shape(m):
      where = jax.tree_util.keystr(path) or "the gradient"
      raise ValueError(
        f"{start} from: {where} has shape {jnp.shape(g)} in the gradients, {jnp.shape(m)} in "
        "the params."
      )


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
    state: an :class:`IndianState` or :class:`~indian_optax.InnapropState`, or any optimizer
      state holding exactly one: ``optax.chain``, ``optax.inject_hyperparams``,
      ``optax.MultiSteps``, ``optax.masked``, a Flax NNX ``Optimizer``'s ``opt_state`` ...
    params: the current params :math:`\theta_k`, the whole tree the optimizer was built on
      (a Flax NNX ``State`` of params included).
    alpha: deprecated and ignored (the state holds :math:`\alpha\beta`).
    beta: deprecated and ignored.

  Returns:
    :math:`\psi_k`, a tree like the params, in the params' dtype. Leaves the state does not
    update (those ``optax.masked`` leaves out) are ``optax.MaskedNode()``. Before the first
    update it is :math:`(1-\alpha_0\beta_0)\theta_0`, the authors' initialisation; with
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
  is_inertial = lambda node: (
    isinstance(node, tuple) and {"phi", "alpha_beta"} <= set(getattr(node, "_fields", ()))
  )
  found = [s for s in jax.tree.leaves(state, is_leaf=is_inertial) if is_inertial(s)]
  if len(found) != 1:
    raise ValueError(
      "psi_from_state: the state must hold exactly one IndianState or InnapropState, "
      f"found {len(found)}."
    )
  (inertial,) = found
  # Wrappers (Flax NNX variables) hold arrays in nodes of their own: read the leaves.
  (alpha_beta,) = jax.tree.leaves(inertial.alpha_beta)
  if jnp.ndim(alpha_beta) != 0:
    raise ValueError(
      f"psi_from_state: the state holds {jnp.shape(alpha_beta)} values of alpha*beta (a "
      "vmapped sweep's state): map it over the sweep, jax.vmap(psi_from_state)(state, params)."
    )
  masked = lambda node: isinstance(node, optax.MaskedNode)
  phis, _ = jax.tree_util.tree_flatten_with_path(inertial.phi, is_leaf=masked)
  thetas, structure = jax.tree_util.tree_flatten_with_path(params)
  # The same leaves at the same places (a Flax NNX state wraps them in other nodes).
  where = lambda path: [k for k in path if not isinstance(k, jax.tree_util.GetAttrKey)]
  if len(phis) != len(thetas) or any(
    where(p) != where(t) or not masked(phi) and jnp.shape(phi) != jnp.shape(theta)
    for (p, phi), (t, theta) in zip(phis, thetas, strict=True)
  ):
    raise ValueError(
      "psi_from_state: params must be the tree the state was built from (the state holds "
      f"{len(phis)} arrays, the params {len(thetas)}, or their places or shapes differ)."
    )
  phis, thetas = [phi for _, phi in phis], [theta for _, theta in thetas]
  structure = jax.tree.structure(params)
  psi = lambda phi, theta: (
    phi if masked(phi) else (phi + (1.0 - alpha_beta) * theta).astype(jnp.asarray(theta).dtype)
  )
  return jax.tree.unflatten(structure, [psi(p, t) for p, t in zip(phis, thetas, strict=True)])

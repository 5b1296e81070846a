"""INDIAN / INNA: the inertial Newton step as an Optax transformation.

The state is kept in the params-free form of the paper's auxiliary variable,
:math:`\\varphi = \\psi - (1 - \\alpha\\beta)\\theta`: it starts at zero (so ``init``
is shape-only), it is small (no catastrophic cancellation in low precision), and
plain INDIAN needs no params in ``update``.
"""

from typing import Any, NamedTuple, Optional, Union

import chex
import jax
import jax.numpy as jnp
import optax

from indian_optax import _checks


class IndianState(NamedTuple):
  """State of :func:`indian`.

  Attributes:
    count: int32 number of updates applied so far, the :math:`k` of
      :math:`\\gamma_k`.
    phi: a tree like the params (dtype ``state_dtype``) holding
      :math:`\\varphi_k = \\psi_k - (1 - \\alpha\\beta)\\,\\theta_k`, the paper's
      auxiliary variable :math:`\\psi` relative to the params. It is zero at
      ``init``; :func:`psi_from_state` gives back :math:`\\psi`.
  """

  count: chex.Array
  phi: optax.Updates


def indian(
  learning_rate: optax.ScalarOrSchedule,
  alpha: jax.typing.ArrayLike = 0.5,
  beta: jax.typing.ArrayLike = 0.1,
  *,
  weight_decay: jax.typing.ArrayLike = 0.0,
  decoupled_weight_decay: jax.typing.ArrayLike = 0.0,
  initial_speed: Optional[jax.typing.ArrayLike] = None,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  r"""INDIAN (a.k.a. INNA), the inertial Newton algorithm of Castera et al.

  An explicit Euler discretisation of the dynamical inertial Newton system
  :math:`\ddot\theta + \alpha\dot\theta + \beta\nabla^2 J(\theta)\dot\theta +
  \nabla J(\theta) = 0`, which damps each direction in proportion to its
  curvature without ever forming a Hessian. With step sizes :math:`\gamma_k` and
  (stochastic) gradients :math:`g_k`, the paper's iteration is

  .. math::

    \theta_{k+1} &= \theta_k + \gamma_k\big[(\tfrac1\beta - \alpha)\theta_k
        - \tfrac1\beta\psi_k - \beta g_k\big], \\
    \psi_{k+1} &= \psi_k + \gamma_k\big[(\tfrac1\beta - \alpha)\theta_k
        - \tfrac1\beta\psi_k\big].

  It is carried out exactly, in the variable
  :math:`\varphi_k = \psi_k - (1-\alpha\beta)\theta_k`:

  .. math::

    u_k &= -\gamma_k\big(\tfrac1\beta\varphi_k + \beta g_k\big), \\
    \varphi_{k+1} &= (1 - \alpha\gamma_k)\,\varphi_k
        + \gamma_k\beta(1 - \alpha\beta)\, g_k,

  where :math:`u_k = \theta_{k+1} - \theta_k` is the returned update and
  :math:`\varphi_0 = \beta(c - \beta) g_0` gives the initial velocity
  :math:`-c\, g_0` (:math:`g_0` the gradient before any weight decay).
  ``update`` computes :math:`\varphi_{k+1}` first and writes :math:`u_k` in
  terms of it, so a jitted step with donated buffers updates the
  state in place, without a state-sized copy.

  Options (each one is left out of the compiled step when it is zero or None):

  * ``weight_decay`` :math:`w`, the authors' INNA semantics: :math:`\gamma_k w
    \theta_k` is subtracted in the :math:`\theta` step only, i.e. :math:`g_k` is
    replaced by :math:`g_k + \tfrac{w}{\beta}\theta_k`.
  * ``decoupled_weight_decay`` :math:`\lambda`, as in the INNAprop authors' code:
    :math:`\theta_k \leftarrow (1 - \gamma_k\lambda)\theta_k` first (with
    :math:`\psi` untouched), then the step from the decayed :math:`\theta_k`.

  Both need ``params`` in ``update``; without them ``update`` raises ValueError.

  Args:
    learning_rate: the step size :math:`\gamma_k`: a float, an array, or a
      schedule ``count -> step size`` (e.g. :func:`power_decay`). Keep
      :math:`0 < \alpha\gamma_k < 2`, and in practice well below 1.
    alpha: viscous damping :math:`\alpha \ge 0` (friction). High: slow and stable;
      low: fast, may diverge. The authors' default is 0.5.
    beta: Newtonian (Hessian) damping :math:`\beta > 0`. The authors suggest
      trying powers of ten (0.01, 0.1, 1, 10); default 0.1.
    weight_decay: coupled (L2) weight decay :math:`w \ge 0`, as in INNA.
    decoupled_weight_decay: decoupled weight decay :math:`\lambda \ge 0`, as in
      INNAprop.
    initial_speed: :math:`c \ge 0`, the initial velocity is :math:`-c\,g_0`.
      None means :math:`c = \beta`, the authors' PyTorch code (first step
      :math:`-\gamma_0\beta g_0`); 0 starts at rest; 1 is their Keras default.
    state_dtype: dtype of :math:`\varphi` (default: the params' dtype). Updates
      always come back in the params' dtype.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` whose state is an
    :class:`IndianState`.

  Example:
    >>> import jax, jax.numpy as jnp, optax
    >>> import indian_optax
    >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
    >>> tx = indian_optax.indian(learning_rate=0.1, alpha=0.5, beta=0.1)
    >>> params = jnp.zeros(3)
    >>> state = tx.init(params)
    >>> for _ in range(300):
    ...   updates, state = tx.update(jax.grad(f)(params), state)
    ...   params = optax.apply_updates(params, updates)
    >>> print(jnp.round(params, 3))
    [1. 1. 1.]

  References:
    Castera, Bolte, Févotte, Pauwels, `An Inertial Newton Algorithm for Deep
    Learning <https://arxiv.org/abs/1905.12278>`_, JMLR 22(134), 2021.
  """
  check = _checks.check_hyperparameter
  check("indian", "weight_decay", weight_decay, at_least=0.0)
  check("indian", "decoupled_weight_decay", decoupled_weight_decay, at_least=0.0)
  check("indian", "initial_speed", initial_speed, at_least=0.0)
  return inertial_core(
    "indian",
    learning_rate,
    alpha,
    beta,
    weight_decay=weight_decay,
    decoupled_weight_decay=decoupled_weight_decay,
    initial_speed=initial_speed,
    state_dtype=state_dtype,
  )


class IndianPsiState(NamedTuple):
  """State of the inertial core when it keeps the paper's own variable (INNAprop).

  Attributes:
    count: int32 number of updates applied so far.
    psi: :math:`\\psi_k`, a tree like the params (dtype ``state_dtype``),
      :math:`(1 - \\alpha\\beta)\\theta_0` at ``init``.
  """

  count: chex.Array
  psi: optax.Updates


def inertial_core(
  owner: str,
  learning_rate: optax.ScalarOrSchedule,
  alpha: jax.typing.ArrayLike,
  beta: jax.typing.ArrayLike,
  *,
  weight_decay: jax.typing.ArrayLike = 0.0,
  decoupled_weight_decay: jax.typing.ArrayLike = 0.0,
  initial_speed: Optional[jax.typing.ArrayLike] = None,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
  keep_psi: bool = False,
) -> optax.GradientTransformationExtraArgs:
  """The one INDIAN step, behind :func:`indian` and :func:`indian_optax.innaprop`.

  ``keep_psi=False`` keeps :math:`\\varphi` (:class:`IndianState`); see
  :func:`indian`. ``keep_psi=True`` keeps the paper's :math:`\\psi`
  (:class:`IndianPsiState`), whose update needs no gradient:

  .. math::

    \\psi_{k+1} = (1 - \\tfrac{\\gamma_k}{\\beta})\\psi_k
        + \\gamma_k(\\tfrac1\\beta - \\alpha)\\theta_k, \\qquad
    u_k = -\\tfrac{\\gamma_k}{\\beta - \\gamma_k}
        \\big(\\psi_{k+1} - (1 - \\alpha\\beta)\\theta_k\\big) - \\gamma_k\\beta g_k

  (after decoupled decay of :math:`\\theta_k`). When the gradient is rescaled by
  an earlier transformation (INNAprop), only the parameter update reads it, so
  XLA fuses the rescaling into that one pass: two fewer memory passes per step
  than with :math:`\\varphi`. The price is a state that is a near copy of the
  params (needs params in ``update``; its cancellation is harmless when the
  gradient is RMS-normalised, not for tiny raw gradients in low precision), so
  ``indian`` keeps :math:`\\varphi`. ``keep_psi`` supports decoupled decay only.

  Args:
    owner: the public factory's name, used in error messages.
    learning_rate: see :func:`indian`.
    alpha: see :func:`indian`.
    beta: see :func:`indian`.
    weight_decay: see :func:`indian`.
    decoupled_weight_decay: see :func:`indian`.
    initial_speed: see :func:`indian`.
    state_dtype: see :func:`indian`.
    keep_psi: keep :math:`\\psi` rather than :math:`\\varphi`.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs`.
  """
  check = _checks.check_hyperparameter
  check(owner, "learning_rate", learning_rate, at_least=0.0)
  check(owner, "alpha", alpha, at_least=0.0)
  check(owner, "beta", beta, greater_than=0.0)
  if state_dtype is not None:
    state_dtype = jnp.dtype(state_dtype)
    if not jnp.issubdtype(state_dtype, jnp.floating):
      raise ValueError(
        f"{owner}: state_dtype must be a floating dtype, got state_dtype={state_dtype}."
      )
  coupled = not _checks.is_static_zero(weight_decay)
  decoupled = not _checks.is_static_zero(decoupled_weight_decay)
  if keep_psi and (coupled or initial_speed is not None):
    raise ValueError(f"{owner}: keep_psi supports decoupled weight decay only.")
  needs_params = keep_psi or coupled or decoupled

  def init_fn(params: optax.Params) -> Union[IndianState, IndianPsiState]:
    count = jnp.zeros([], jnp.int32)
    if keep_psi:
      # The authors' initialisation psi_0 = (1 - alpha*beta) theta_0 (unit initial speed c = beta).
      psi = jax.tree.map(
        lambda p: (p * (1.0 - alpha * beta)).astype(state_dtype or p.dtype), params
      )
      return IndianPsiState(count=count, psi=psi)
    return IndianState(count=count, phi=optax.tree.zeros_like(params, dtype=state_dtype))

  def update_fn(
    updates: optax.Updates,
    state: Union[IndianState, IndianPsiState],
    params: Optional[optax.Params] = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, Union[IndianState, IndianPsiState]]:
    del extra_args
    memory = state.psi if keep_psi else state.phi
    _check_gradients(owner, updates, memory, same_dtypes=state_dtype is None)
    if needs_params and params is None:
      raise ValueError(
        f"{owner}: weight decay needs the params: call update(updates, state, params)."
        " (A traced weight decay counts as non-zero: to run without params under "
        "optax.inject_hyperparams, name the weight decays in its static_args.)"
      )
    step_size = learning_rate(state.count) if callable(learning_rate) else learning_rate
    first_step = state.count == 0

    def leaf_step(g, memory, theta=None):
      compute = jnp.promote_types(jnp.promote_types(g.dtype, memory.dtype), jnp.float32)
      out_dtype = g.dtype if theta is None else theta.dtype
      scalar = lambda x: jnp.asarray(x, compute)  # noqa: E731
      g, theta_c = g.astype(compute), None if theta is None else theta.astype(compute)
      lr, a, b = scalar(step_size), scalar(alpha), scalar(beta)
      shrink = lr * scalar(decoupled_weight_decay) * theta_c if decoupled else None
      if keep_psi:
        new_memory, update_from = _psi_step(g, memory.astype(compute), theta_c, shrink, lr, a, b)
      else:
        start = None  # phi_0 = beta (c - beta) g_0, from the gradient before weight decay
        if initial_speed is not None:
          start = jnp.where(first_step, b * (scalar(initial_speed) - b) * g, 0.0)
        if coupled:
          g = g + (scalar(weight_decay) / b) * theta_c
        phi = memory.astype(compute)
        new_memory, update_from = _phi_step(g, phi, shrink, lr, a, b, start=start)
      # The update must read the stored new state: were XLA to recompute it from
      # the old state inside the parameter update (it does for bf16), it would
      # have to copy the old state before overwriting it in place.
      new_memory = jax.lax.optimization_barrier(new_memory.astype(memory.dtype))
      update = update_from(new_memory.astype(compute))
      return update.astype(out_dtype), new_memory

    trees = (updates, memory) if params is None else (updates, memory, params)
    steps = jax.tree.map(leaf_step, *trees)
    new_updates, new_memory = unzip_leaves(updates, steps)
    count = optax.safe_increment(state.count)
    if keep_psi:
      return new_updates, IndianPsiState(count=count, psi=new_memory)
    return new_updates, IndianState(count=count, phi=new_memory)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def unzip_leaves(like: Any, pairs: Any) -> tuple[Any, Any]:
  """Splits a tree of ``(a, b)`` leaf results (shaped like ``like``) into two trees."""
  first = jax.tree.map(lambda _, pair: pair[0], like, pairs)
  second = jax.tree.map(lambda _, pair: pair[1], like, pairs)
  return first, second


def _away_from_zero(x: jax.Array) -> jax.Array:
  """Keeps a factor at least sqrt(eps) away from 0, with its sign.

  The update is written in terms of the new state, dividing by the factor by
  which the state forgets itself. A factor of exactly 0 is a legal but degenerate
  step (alpha * lr == 1 for phi, lr == beta for psi); the margin bounds the
  rounding the division amplifies, at a negligible change of the dynamics.
  """
  margin = jnp.sqrt(jnp.finfo(x.dtype).eps)
  return jnp.where(x >= 0, jnp.maximum(x, margin), jnp.minimum(x, -margin))


def _phi_step(g, phi, shrink, lr, a, b, *, start=None):
  """One step in phi form: (new phi, new phi -> u).

  u is written in terms of the new phi, so that XLA can update phi in place.
  """
  if start is not None:
    phi = phi + start
  if shrink is not None:
    phi = phi + (1.0 - a * b) * shrink
  forget = _away_from_zero(1.0 - a * lr)
  grad_gain = lr * b * (1.0 - a * b)

  def update_from(new_phi):
    # u = -lr (phi / b + b g), with phi = (new_phi - grad_gain g) / forget.
    update = -lr / (b * forget) * new_phi + lr * (lr * (1.0 - a * b) / forget - b) * g
    return update if shrink is None else update - shrink

  return forget * phi + grad_gain * g, update_from


def _psi_step(g, psi, theta, shrink, lr, a, b):
  """One step in psi form, after decoupled decay: (new psi, new psi -> u)."""
  if shrink is not None:
    theta = theta - shrink
  keep = _away_from_zero(1.0 - lr / b)

  def update_from(new_psi):
    # u = theta - theta_k + lr ((1/b - a) theta - psi / b - b g), with
    # psi = (new_psi - lr (1/b - a) theta) / keep; the small difference is formed first.
    update = -lr / (b * keep) * (new_psi - (1.0 - a * b) * theta) - lr * b * g
    return update if shrink is None else update - shrink

  return keep * psi + lr * (1.0 / b - a) * theta, update_from


def _check_gradients(
  owner: str, updates: optax.Updates, memory: optax.Updates, same_dtypes: bool
) -> None:
  message = f"{owner}: the gradients must match the params the state was built from"
  chex.assert_trees_all_equal_structs(updates, memory, custom_message=message)
  chex.assert_trees_all_equal_shapes(updates, memory, custom_message=message)
  if same_dtypes:
    chex.assert_trees_all_equal_dtypes(updates, memory, custom_message=message)


def psi_from_state(
  state: optax.OptState,
  params: optax.Params,
  *,
  alpha: jax.typing.ArrayLike,
  beta: jax.typing.ArrayLike,
) -> optax.Params:
  r"""The paper's auxiliary variable :math:`\psi_k = \varphi_k + (1-\alpha\beta)\theta_k`.

  Args:
    state: an :class:`IndianState`, or any optimizer state holding exactly one
      (a chain, ``inject_hyperparams``, ``MultiSteps``, INNAprop ...).
    params: the current params :math:`\theta_k`.
    alpha: the ``alpha`` the optimizer runs with.
    beta: the ``beta`` the optimizer runs with.

  Returns:
    :math:`\psi_k`, a tree like the params, in the params' dtype. Before the first
    update it is :math:`(1-\alpha\beta)\theta_0`, the authors' initialisation;
    with ``initial_speed`` :math:`c \neq \beta` the paper's :math:`\psi_0` also
    involves :math:`g_0`, which only the first update sees.

  Example:
    >>> import jax.numpy as jnp, indian_optax
    >>> tx = indian_optax.indian(0.1, alpha=0.5, beta=0.1)
    >>> params = jnp.ones(2)
    >>> indian_optax.psi_from_state(tx.init(params), params, alpha=0.5, beta=0.1)
    Array([0.95, 0.95], dtype=float32)
  """
  is_inertial = lambda node: isinstance(node, (IndianState, IndianPsiState))  # noqa: E731
  found = [s for s in jax.tree.leaves(state, is_leaf=is_inertial) if is_inertial(s)]
  if len(found) != 1:
    raise ValueError(
      f"psi_from_state: expected exactly one IndianState in the state, found {len(found)}."
    )
  if isinstance(found[0], IndianPsiState):
    return jax.tree.map(lambda psi, theta: psi.astype(theta.dtype), found[0].psi, params)
  return jax.tree.map(
    lambda phi, theta: (phi + (1.0 - alpha * beta) * theta).astype(theta.dtype),
    found[0].phi,
    params,
  )

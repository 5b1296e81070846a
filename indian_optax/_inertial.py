"""The inertial Newton (INDIAN / INNA) step as Optax transformations.

One explicit Euler step of the paper, in two state variables:

* :func:`scale_by_indian` keeps :math:`\\varphi = \\psi - (1 - \\alpha\\beta)\\theta`:
  zero at ``init`` (shape-only), small (no cancellation in low precision), and no
  params needed in ``update``. :func:`indian` is this transformation.
* :func:`scale_by_indian_psi` keeps the paper's :math:`\\psi`, whose update needs
  no gradient: a gradient rescaled by an earlier transformation (INNAprop) is then
  read by the parameter update alone, and XLA fuses the rescaling into it.

Each form is two plain per-leaf functions, the new state and the update written in
terms of the new state (so that a donated step updates the state in place).
"""

from collections.abc import Callable
from typing import Any, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import optax

from indian_optax import _checks
from indian_optax._tree_utils import floating_params, unzip_leaves


class IndianState(NamedTuple):
  """State of :func:`scale_by_indian` (and so of :func:`indian`).

  Attributes:
    count: int32 number of updates applied so far, the :math:`k` of
      :math:`\\gamma_k`.
    phi: a tree like the params (dtype ``state_dtype``) holding
      :math:`\\varphi_k = \\psi_k - (1 - \\alpha\\beta)\\,\\theta_k`, the paper's
      auxiliary variable :math:`\\psi` relative to the params. It is zero at
      ``init``; :func:`psi_from_state` gives back :math:`\\psi`.
    alpha_beta: the product :math:`\\alpha\\beta` of the last step, the basis
      :math:`\\varphi` is expressed in; kept only when alpha or beta may change
      (schedules, arrays, ``inject_hyperparams``), else None.
  """

  count: chex.Array
  phi: optax.Updates
  alpha_beta: Optional[chex.Array] = None


class IndianPsiState(NamedTuple):
  """State of :func:`scale_by_indian_psi` (the inertial half of INNAprop).

  Attributes:
    count: int32 number of updates applied so far.
    psi: :math:`\\psi_k`, a tree like the params (dtype ``state_dtype``); zero at
      ``init`` (shape-only), :math:`\\psi_0 = (1 - \\alpha_0\\beta_0)\\theta_0` is formed
      at the first update.
  """

  count: chex.Array
  psi: optax.Updates


class _Coefficients(NamedTuple):
  """The scalars of step k; an option that is off is None and leaves no trace in the step."""

  learning_rate: Any
  alpha: Any
  beta: Any
  weight_decay: Any = None
  decoupled_weight_decay: Any = None
  initial_speed: Any = None
  first_step: Any = None
  basis_change: Any = None

  def cast(self, dtype: Any) -> "_Coefficients":
    """The scalars in the real dtype of ``dtype`` (complex params get real coefficients)."""
    real = jnp.finfo(dtype).dtype
    as_dtype = lambda x: None if x is None else jnp.asarray(x, real)
    return self._replace(**{k: as_dtype(v) for k, v in self._asdict().items() if k != "first_step"})


# A form of the step: (g, state, theta, coefficients) -> new state, and
# (g, new state, theta, coefficients) -> update, all per leaf in the compute dtype.
StateStep = Callable[[jax.Array, jax.Array, Optional[jax.Array], _Coefficients], jax.Array]


def _forget_phi(c: _Coefficients) -> jax.Array:
  return _away_from_zero(1.0 - c.alpha * c.learning_rate)


def _keep_psi(c: _Coefficients) -> jax.Array:
  return _away_from_zero(1.0 - c.learning_rate / c.beta)


def _shrink(theta: jax.Array, c: _Coefficients) -> jax.Array:
  """Decoupled weight decay's part of the step, :math:`\\gamma_k\\lambda\\theta_k`."""
  return c.learning_rate * c.decoupled_weight_decay * theta


def _with_coupled_decay(g: jax.Array, theta: jax.Array, c: _Coefficients) -> jax.Array:
  """INNA's coupled decay :math:`\\gamma w\\theta` in the θ step is the L2 term (w/β)θ in g."""
  return g if c.weight_decay is None else g + (c.weight_decay / c.beta) * theta


def _phi_next(g, phi, theta, c: _Coefficients) -> jax.Array:
  """φ_{k+1} = (1 − αγ) φ_k + γβ(1 − αβ) g_k, after the basis, start and decay terms."""
  if c.basis_change is not None:  # φ read in the basis of this step's αβ
    phi = phi + c.basis_change * theta
  if c.initial_speed is not None:  # φ_0 = β(c − β) g_0, with g_0 before any weight decay
    phi = phi + jnp.where(c.first_step, c.beta * (c.initial_speed - c.beta) * g, 0.0)
  if c.decoupled_weight_decay is not None:
    phi = phi + (1.0 - c.alpha * c.beta) * _shrink(theta, c)
  g = _with_coupled_decay(g, theta, c)
  return _forget_phi(c) * phi + c.learning_rate * c.beta * (1.0 - c.alpha * c.beta) * g


def _phi_update(g, new_phi, theta, c: _Coefficients) -> jax.Array:
  """u_k = −γ(φ_k/β + βg_k), with φ_k = (φ_{k+1} − γβ(1 − αβ)g_k) / (1 − αγ)."""
  lr, a, b = c.learning_rate, c.alpha, c.beta
  forget, g = _forget_phi(c), _with_coupled_decay(g, theta, c)
  update = -lr / (b * forget) * new_phi + lr * (lr * (1.0 - a * b) / forget - b) * g
  return update if c.decoupled_weight_decay is None else update - _shrink(theta, c)


def _decayed(theta: jax.Array, c: _Coefficients) -> jax.Array:
  return theta if c.decoupled_weight_decay is None else theta - _shrink(theta, c)


def _psi_next(g, psi, theta, c: _Coefficients) -> jax.Array:
  """ψ_{k+1} = (1 − γ/β) ψ_k + γ(1/β − α) θ_k, from the decayed θ_k; no gradient."""
  del g
  psi = jnp.where(c.first_step, (1.0 - c.alpha * c.beta) * theta, psi)  # the authors' ψ_0
  return _keep_psi(c) * psi + c.learning_rate * (1.0 / c.beta - c.alpha) * _decayed(theta, c)


def _psi_update(g, new_psi, theta, c: _Coefficients) -> jax.Array:
  """u_k = −γ/(β − γ) (ψ_{k+1} − (1 − αβ)θ_k) − γβ g_k (− γλθ_k), the small difference first."""
  lr, a, b = c.learning_rate, c.alpha, c.beta
  update = -lr / (b * _keep_psi(c)) * (new_psi - (1.0 - a * b) * _decayed(theta, c)) - lr * b * g
  return update if c.decoupled_weight_decay is None else update - _shrink(theta, c)


def _step_leaves(
  next_state: StateStep,
  update_from: StateStep,
  c: _Coefficients,
  updates: optax.Updates,
  memory: optax.Updates,
  params: Optional[optax.Params],
) -> tuple[optax.Updates, optax.Updates]:
  """Maps one form of the step over the leaves: (updates, new state)."""

  def leaf(g, state, theta=None):
    g = jnp.asarray(g)  # Python scalars too
    compute = jnp.promote_types(jnp.promote_types(g.dtype, state.dtype), jnp.float32)
    # Like Optax's own optimizers: the update is as precise as the gradient and params.
    out_dtype = g.dtype if theta is None else jnp.promote_types(g.dtype, jnp.asarray(theta).dtype)
    cc = c.cast(compute)
    g, theta = g.astype(compute), None if theta is None else jnp.asarray(theta).astype(compute)
    # The update reads the stored new state, so XLA can overwrite the old one in place.
    new_state = next_state(g, state.astype(compute), theta, cc).astype(state.dtype)
    return update_from(g, new_state.astype(compute), theta, cc).astype(out_dtype), new_state

  trees = (updates, memory) if params is None else (updates, memory, params)
  return unzip_leaves(updates, jax.tree.map(leaf, *trees))


def _at(value: optax.ScalarOrSchedule, count: Any) -> Any:
  """A hyperparameter's value at step ``count`` (schedules are called)."""
  return value(count) if callable(value) else value


def _may_vary(value: Any) -> bool:
  """Whether a hyperparameter may change between steps: a schedule or any array or tracer."""
  return callable(value) or not isinstance(value, (int, float))


def _is_on(value: Any) -> bool:
  """An option is off when None or concretely zero: its term is left out of the step."""
  return value is not None and not _checks.is_static_zero(value)


def _inertial_transformation(
  name: str,
  init_fn: Callable[[optax.Params], Any],
  field: str,
  form: tuple[StateStep, StateStep],
  step: Callable[[Any, Optional[optax.Params]], tuple[_Coefficients, dict[str, Any]]],
  needs_params: Optional[str],
) -> optax.GradientTransformationExtraArgs:
  """An INDIAN transformation from one form of the step, ``(next state, update from it)``.

  ``step(state, params)`` gives the step's coefficients and the state's other new
  fields; ``needs_params`` says why ``update`` needs the params (None if it does not).
  """

  def update_fn(
    updates: optax.Updates, state: Any, params: Optional[optax.Params] = None, **extra_args: Any
  ) -> tuple[optax.Updates, Any]:
    del extra_args
    memory = getattr(state, field)
    _check_gradients(name, updates, memory)
    if needs_params and params is None:
      raise ValueError(f"{name}: {needs_params}: call update(updates, state, params).")
    coefficients, fields = step(state, params)
    new_updates, memory = _step_leaves(*form, coefficients, updates, memory, params)
    count = optax.safe_increment(state.count)
    return new_updates, state._replace(count=count, **{field: memory}, **fields)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@_checks.checks_hyperparameters
def scale_by_indian(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.5,
  beta: optax.ScalarOrSchedule = 0.1,
  *,
  weight_decay: Optional[jax.typing.ArrayLike] = None,
  decoupled_weight_decay: Optional[jax.typing.ArrayLike] = None,
  initial_speed: Optional[jax.typing.ArrayLike] = None,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  r"""The INDIAN step, kept in the params-free variable :math:`\varphi`.

  With :math:`\varphi_k = \psi_k - (1-\alpha\beta)\theta_k` the paper's iteration
  (see :func:`indian`, which is this transformation, for the arguments) is exactly

  .. math::

    u_k = -\gamma_k\big(\tfrac1\beta\varphi_k + \beta g_k\big), \qquad
    \varphi_{k+1} = (1 - \alpha\gamma_k)\,\varphi_k + \gamma_k\beta(1 - \alpha\beta)\, g_k,

  with :math:`u_k = \theta_{k+1} - \theta_k` and :math:`\varphi_0 = \beta(c - \beta) g_0`. The
  learning rate lives inside, as in ``optax.contrib.scale_by_madgrad``: scaling the updates
  afterwards is not INDIAN at a smaller step. :math:`u_k` is written in terms of
  :math:`\varphi_{k+1}` (dividing by :math:`1 - \alpha\gamma_k`, kept :math:`\sqrt{\epsilon}`
  away from 0), so a donated step updates the state in place. When :math:`\alpha\beta`
  changes, :math:`\varphi` is carried to the new basis, :math:`\varphi \mathrel{+}=
  (\alpha_k\beta_k - \alpha_{k-1}\beta_{k-1})\theta_k`: that needs the params.

  Returns: an :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianState`.
  """
  coupled, decoupled = _is_on(weight_decay), _is_on(decoupled_weight_decay)
  varying = _may_vary(alpha) or _may_vary(beta)

  def init_fn(params: optax.Params) -> IndianState:
    params = floating_params("scale_by_indian", params)
    product = jnp.asarray(_at(alpha, 0) * _at(beta, 0), float) if varying else None
    phi = optax.tree.zeros_like(params, dtype=state_dtype)
    return IndianState(count=jnp.zeros([], jnp.int32), phi=phi, alpha_beta=product)

  def step(state: IndianState, params: Optional[optax.Params]):
    a, b = _at(alpha, state.count), _at(beta, state.count)
    product, change = None, None  # constant alpha and beta: no basis to carry phi to
    if varying:
      product = jnp.asarray(a * b, float)
      if params is not None:
        previous = product if state.alpha_beta is None else state.alpha_beta
        change = jnp.where(state.count == 0, 0.0, product - previous)
      elif callable(alpha) or callable(beta):
        raise ValueError(f"scale_by_indian: {_SCHEDULES_NEED_PARAMS}")
    c = _Coefficients(
      _at(learning_rate, state.count), a, b,
      weight_decay=weight_decay if coupled else None,
      decoupled_weight_decay=decoupled_weight_decay if decoupled else None,
      initial_speed=initial_speed, first_step=state.count == 0, basis_change=change,
    )  # fmt: skip
    return c, {"alpha_beta": product}

  needs_params = "weight decay needs the params" if coupled or decoupled else None
  form = (_phi_next, _phi_update)
  return _inertial_transformation("scale_by_indian", init_fn, "phi", form, step, needs_params)


_SCHEDULES_NEED_PARAMS = (
  "schedules of alpha or beta need the params (phi is carried to each step's alpha*beta)"
)


@_checks.checks_hyperparameters
def scale_by_indian_psi(
  learning_rate: optax.ScalarOrSchedule,
  alpha: optax.ScalarOrSchedule = 0.1,
  beta: optax.ScalarOrSchedule = 0.9,
  *,
  decoupled_weight_decay: Optional[jax.typing.ArrayLike] = None,
  state_dtype: Optional[jax.typing.DTypeLike] = None,
) -> optax.GradientTransformationExtraArgs:
  r"""The INDIAN step kept in the paper's own variable :math:`\psi` (INNAprop's core).

  After decoupled weight decay :math:`\theta_k \leftarrow (1-\gamma_k\lambda)\theta_k`,

  .. math::

    \psi_{k+1} = (1 - \tfrac{\gamma_k}{\beta_k})\psi_k + \gamma_k(\tfrac1{\beta_k} - \alpha_k)
    \theta_k, \qquad u_k = -\tfrac{\gamma_k}{\beta_k - \gamma_k}
        \big(\psi_{k+1} - (1 - \alpha_k\beta_k)\theta_k\big) - \gamma_k\beta_k g_k,

  from :math:`\psi_0 = (1-\alpha_0\beta_0)\theta_0`, formed at the first update (``init``
  is shape-only). :math:`\psi`'s update reads no gradient, so a rescaling by an earlier
  transformation fuses into the parameter update alone (two fewer memory passes than
  :math:`\varphi`); :math:`\alpha` and :math:`\beta` may change at no cost. The price is
  a state that is a near copy of the params, so ``update`` needs them.

  Args:
    learning_rate: the step size :math:`\gamma_k`, a float, array or schedule.
    alpha: viscous damping :math:`\alpha \ge 0`, a float, array or schedule.
    beta: Newtonian damping :math:`\beta > 0`, a float, array or schedule.
    decoupled_weight_decay: decoupled weight decay :math:`\lambda \ge 0` (None: off).
    state_dtype: dtype of :math:`\psi` (default: the params' dtype).

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianPsiState`.
  """
  decay = decoupled_weight_decay if _is_on(decoupled_weight_decay) else None

  def init_fn(params: optax.Params) -> IndianPsiState:
    params = floating_params("scale_by_indian_psi", params)
    psi = optax.tree.zeros_like(params, dtype=state_dtype)
    return IndianPsiState(count=jnp.zeros([], jnp.int32), psi=psi)

  def step(state: IndianPsiState, params: Optional[optax.Params]):
    count = state.count
    c = _Coefficients(
      _at(learning_rate, count), _at(alpha, count), _at(beta, count),
      decoupled_weight_decay=decay, first_step=count == 0,
    )  # fmt: skip
    return c, {}

  needs_params = "weight decay needs the params (so does psi)" if decay is not None else None
  form = (_psi_next, _psi_update)
  return _inertial_transformation(
    "scale_by_indian_psi", init_fn, "psi", form, step, needs_params or "psi needs the params"
  )


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

  Euler steps of :math:`\ddot\theta + \alpha\dot\theta + \beta\nabla^2 J(\theta)\dot\theta +
  \nabla J(\theta) = 0`, which damps each direction in proportion to its curvature
  without a Hessian. With step sizes :math:`\gamma_k` and gradients :math:`g_k`:

  .. math::

    \theta_{k+1} &= \theta_k + \gamma_k\big[(\tfrac1\beta - \alpha)\theta_k
        - \tfrac1\beta\psi_k - \beta g_k\big], \\
    \psi_{k+1} &= \psi_k + \gamma_k\big[(\tfrac1\beta - \alpha)\theta_k - \tfrac1\beta\psi_k\big],

  carried out exactly by :func:`scale_by_indian`, also with :math:`\alpha_k, \beta_k` in
  place of :math:`\alpha, \beta` (plain INDIAN with constant ones needs no params).

  Args:
    learning_rate: the step size :math:`\gamma_k`: float, array or schedule (e.g.
      :func:`power_decay`). Keep :math:`0 < \alpha\gamma_k < 2`, in practice well below 1.
    alpha: viscous damping :math:`\alpha \ge 0` (high: slow and stable; low: fast, may
      diverge; the authors' default 0.5), or a schedule. Changing alpha or beta needs params.
    beta: Newtonian (Hessian) damping :math:`\beta > 0` (try powers of ten), or a schedule.
    weight_decay: coupled decay :math:`w \ge 0` (INNA's): :math:`\gamma_k w\theta_k` in
      the :math:`\theta` step only, i.e. :math:`g_k + \tfrac{w}{\beta}\theta_k`. None: off.
    decoupled_weight_decay: :math:`\lambda \ge 0` (INNAprop's): :math:`\theta_k \leftarrow
      (1 - \gamma_k\lambda)\theta_k` first, :math:`\psi` untouched. None: off.
    initial_speed: :math:`c \ge 0`, initial velocity :math:`-c\,g_0` (None: :math:`c = \beta`).
    state_dtype: dtype of the state (default: the params'). A weight decay needs params.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianState`.

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
  decays = dict(weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay)
  return scale_by_indian(
    learning_rate, alpha, beta, **decays, initial_speed=initial_speed, state_dtype=state_dtype
  )


def _away_from_zero(x: jax.Array) -> jax.Array:
  """Keeps a factor at least sqrt(eps) away from 0, with its sign.

  The update is written in terms of the new state, dividing by the factor by
  which the state forgets itself. A factor of exactly 0 is a legal but degenerate
  step (alpha * lr == 1 for phi, lr == beta for psi); the margin bounds the
  rounding the division amplifies, at a negligible change of the dynamics.
  """
  margin = jnp.sqrt(jnp.finfo(x.dtype).eps)
  return jnp.where(x >= 0, jnp.maximum(x, margin), jnp.minimum(x, -margin))


def _check_gradients(owner: str, updates: optax.Updates, memory: optax.Updates) -> None:
  """The gradients have the params' tree and shapes (their dtype may differ: mixed precision)."""
  message = f"{owner}: the gradients must match the params the state was built from"
  chex.assert_trees_all_equal_structs(updates, memory, custom_message=message)
  chex.assert_trees_all_equal_shapes(updates, memory, custom_message=message)


def psi_from_state(
  state: optax.OptState,
  params: optax.Params,
  *,
  alpha: jax.typing.ArrayLike,
  beta: jax.typing.ArrayLike,
) -> optax.Params:
  r"""The paper's auxiliary variable :math:`\psi_k = \varphi_k + (1-\alpha\beta)\theta_k`.

  Args:
    state: an :class:`IndianState` or :class:`IndianPsiState`, or any optimizer
      state holding exactly one (a chain, ``inject_hyperparams``, ``MultiSteps``,
      INNAprop ...).
    params: the current params :math:`\theta_k`.
    alpha: the ``alpha`` the optimizer runs with (its current value).
    beta: the ``beta`` the optimizer runs with (its current value).

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
  is_inertial = lambda node: isinstance(node, (IndianState, IndianPsiState))
  found = [s for s in jax.tree.leaves(state, is_leaf=is_inertial) if is_inertial(s)]
  if len(found) != 1:
    raise ValueError(
      f"psi_from_state: expected exactly one IndianState in the state, found {len(found)}."
    )
  state = found[0]
  if isinstance(state, IndianPsiState):  # psi_0 is formed at the first update
    start = lambda psi, theta: jnp.where(state.count == 0, (1.0 - alpha * beta) * theta, psi)
    return jax.tree.map(lambda psi, theta: start(psi, theta).astype(theta.dtype), state.psi, params)
  # phi is expressed in the basis of the last step's alpha*beta, where it was kept.
  product = alpha * beta if state.alpha_beta is None else state.alpha_beta
  return jax.tree.map(
    lambda phi, theta: (phi + (1.0 - product) * theta).astype(theta.dtype), state.phi, params
  )

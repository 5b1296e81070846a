"""The inertial Newton (INDIAN / INNA) step as Optax transformations.

One explicit Euler step of the paper, kept in one of two state variables:

* :func:`scale_by_indian` keeps :math:`\\varphi = \\psi - (1 - \\alpha\\beta)\\theta`:
  zero at ``init`` (shape-only), small (no cancellation in low precision), and no
  params needed in ``update``. :func:`indian` is this transformation.
* :func:`scale_by_indian_psi` keeps :math:`\\psi - \\theta`, whose recursion has no
  decay factor at all, :math:`(\\psi - \\theta)_{k+1} = (\\psi - \\theta)_k +
  \\gamma_k\\beta_k g_k`, so it is exact for every :math:`(\\gamma, \\alpha, \\beta)`
  and indifferent to changes of :math:`\\alpha` and :math:`\\beta` (INNAprop's core).

Each form is one plain per-leaf function giving the update and the new state. Where
the update is written in terms of the new state, a donated step updates the state in
place: XLA:CPU runs the state update and the parameter update as two loops, and
copies the state when the second one still reads the old state (XLA:GPU fuses both
into one loop and needs no copy). The φ form's update can be read from the new
state only by dividing by :math:`1 - \\alpha\\gamma_k`, which vanishes inside the
valid domain; that form is used only where :math:`|1 - \\alpha\\gamma| \\ge 1/2` is
known when the transformation is built (see :func:`scale_by_indian`). The ψ form has
no such choice: ψ's own update needs no gradient, but the update then reads ψ_k only
through ψ_{k+1}/(1 − γ/β), lost at γ = β; ψ − θ is exact everywhere and its state update
reads the (rescaled) gradient too, which XLA:CPU then materialises once per step.
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np
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
    alpha_beta: the scalar product :math:`\\alpha\\beta` of the last step (of
      :math:`\\alpha_0\\beta_0` after ``init``), the basis :math:`\\varphi` is
      expressed in. Always present, whatever the type of ``alpha`` and ``beta``, so
      the state's structure never depends on how they were passed.
  """

  count: chex.Array
  phi: optax.Updates
  alpha_beta: chex.Array


class IndianPsiState(NamedTuple):
  """State of :func:`scale_by_indian_psi` (the inertial half of INNAprop).

  Attributes:
    count: int32 number of updates applied so far.
    psi_minus_params: :math:`\\psi_k - \\theta_k`, a tree like the params (dtype
      ``state_dtype``); zero at ``init`` (shape-only), :math:`\\psi_0 - \\theta_0 =
      -\\alpha_0\\beta_0\\theta_0` is formed at the first update. :func:`psi_from_state`
      gives back :math:`\\psi`.
  """

  count: chex.Array
  psi_minus_params: optax.Updates


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
    # inject_hyperparams casts hyperparameters to the params' dtype, complex ones included.
    as_dtype = lambda x: None if x is None else jnp.asarray(jnp.real(x), real)
    return self._replace(**{k: as_dtype(v) for k, v in self._asdict().items() if k != "first_step"})


# A form of the step, per leaf in the compute dtype: (g, state, theta, coefficients,
# stored) -> (update, new state). ``stored(x)`` is x rounded to the state's dtype, the
# value the next step will read; a form that reads its new state reads it through it.
LeafStep = Callable[..., tuple[jax.Array, jax.Array]]


def _shrink(theta: jax.Array, c: _Coefficients) -> jax.Array:
  """Decoupled weight decay's part of the step, :math:`\\gamma_k\\lambda\\theta_k`."""
  return c.learning_rate * c.decoupled_weight_decay * theta


def _with_coupled_decay(g: jax.Array, theta: jax.Array, c: _Coefficients) -> jax.Array:
  """INNA's coupled decay :math:`\\gamma w\\theta` in the θ step is the L2 term (w/β)θ in g."""
  return g if c.weight_decay is None else g + (c.weight_decay / c.beta) * theta


def _phi_of_this_step(g, phi, theta, c: _Coefficients) -> jax.Array:
  """φ_k in the basis of this step's αβ, with the initial-speed and decoupled-decay terms."""
  if c.basis_change is not None:
    phi = phi + c.basis_change * theta
  if c.initial_speed is not None:  # φ_0 = β(c − β) g_0, with g_0 before any weight decay
    phi = phi + jnp.where(c.first_step, c.beta * (c.initial_speed - c.beta) * g, 0.0)
  if c.decoupled_weight_decay is not None:
    phi = phi + (1.0 - c.alpha * c.beta) * _shrink(theta, c)
  return phi


def _with_decoupled_decay(update: jax.Array, theta, c: _Coefficients) -> jax.Array:
  return update if c.decoupled_weight_decay is None else update - _shrink(theta, c)


def _phi_next(phi, g, c: _Coefficients) -> jax.Array:
  """φ_{k+1} = (1 − αγ)φ_k + γβ(1 − αβ)g_k."""
  lr, a, b = c.learning_rate, c.alpha, c.beta
  return (1.0 - a * lr) * phi + lr * b * (1.0 - a * b) * g


def _phi_step(g, phi, theta, c: _Coefficients, stored) -> tuple[jax.Array, jax.Array]:
  """u_k = −γ(φ_k/β + βg_k) and φ_{k+1}, both from φ_k."""
  del stored
  lr, b = c.learning_rate, c.beta
  phi, g_decayed = _phi_of_this_step(g, phi, theta, c), _with_coupled_decay(g, theta, c)
  update = -lr * (phi / b + b * g_decayed)
  return _with_decoupled_decay(update, theta, c), _phi_next(phi, g_decayed, c)


def _phi_step_in_place(g, phi, theta, c: _Coefficients, stored) -> tuple[jax.Array, jax.Array]:
  """The same step with u_k read from the stored φ_{k+1}, φ_k = (φ_{k+1} − γβ(1 − αβ)g_k)/(1 − αγ).

  Used only where |1 − αγ| ≥ 1/2 is known: the division then amplifies the rounding
  of φ_{k+1} at most twice, and XLA:CPU updates the state in place.
  """
  lr, a, b = c.learning_rate, c.alpha, c.beta
  phi, g_decayed = _phi_of_this_step(g, phi, theta, c), _with_coupled_decay(g, theta, c)
  new_phi, forget = stored(_phi_next(phi, g_decayed, c)), 1.0 - a * lr
  update = -lr / (b * forget) * new_phi + lr * (lr * (1.0 - a * b) / forget - b) * g_decayed
  return _with_decoupled_decay(update, theta, c), new_phi


def _psi_minus_params_step(g, offset, theta, c: _Coefficients, stored):
  """With d = ψ − θ: d_{k+1} = d_k + γλθ_k + γβg_k, u_k = −γλθ_k − γ(αθ̃_k + d_{k+1}/β + (β − γ)g_k).

  θ̃_k = (1 − γλ)θ_k is the decayed θ the INDIAN step starts from. No division by
  anything that can vanish, and the update reads the stored d_{k+1}.
  """
  lr, a, b = c.learning_rate, c.alpha, c.beta
  offset = jnp.where(c.first_step, -(a * b) * theta, offset)  # the authors' ψ_0 = (1 − αβ)θ_0
  decayed = theta
  if c.decoupled_weight_decay is not None:  # θ shrinks, ψ does not: ψ − θ grows by γλθ
    offset, decayed = offset + _shrink(theta, c), theta - _shrink(theta, c)
  new_offset = stored(offset + lr * b * g)
  update = -lr * (a * decayed + new_offset / b + (b - lr) * g)
  return _with_decoupled_decay(update, theta, c), new_offset


def _step_leaves(
  form: LeafStep,
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
    stored = lambda x: x.astype(state.dtype).astype(compute)
    g, theta = g.astype(compute), None if theta is None else jnp.asarray(theta).astype(compute)
    update, new_state = form(g, state.astype(compute), theta, c.cast(compute), stored)
    return update.astype(out_dtype), new_state.astype(state.dtype)

  trees = (updates, memory) if params is None else (updates, memory, params)
  return unzip_leaves(updates, jax.tree.map(leaf, *trees))


def _at(value: optax.ScalarOrSchedule, count: Any) -> Any:
  """A hyperparameter's value at step ``count`` (schedules are called)."""
  return value(count) if callable(value) else value


def _may_vary(value: Any) -> bool:
  """Whether a hyperparameter may change between steps: a schedule or a traced value.

  Python and NumPy scalars and concrete arrays are constants of the step.
  """
  return callable(value) or _checks.concrete_value(value) is None


def _known_well_conditioned(learning_rate: Any, alpha: Any) -> bool:
  """Whether |1 − α·γ_k| ≥ 1/2 is known now for every step and every element.

  It is for a concrete alpha with a concrete learning rate, or with a schedule that
  declares its ``max_value`` (:func:`power_decay` does; its values lie in [0, max]).
  """
  a = None if callable(alpha) else _checks.concrete_value(alpha)
  if a is None:
    return False
  if callable(learning_rate):
    largest = _checks.concrete_value(getattr(learning_rate, "max_value", None))
    return largest is not None and bool(np.all(a * largest <= 0.5))
  lr = _checks.concrete_value(learning_rate)
  return lr is not None and bool(np.all(np.abs(1.0 - a * lr) >= 0.5))


def _is_on(value: Any) -> bool:
  """An option is off when None or concretely zero: its term is left out of the step."""
  return value is not None and not _checks.is_static_zero(value)


def _inertial_transformation(
  name: str,
  init_fn: Callable[[optax.Params], Any],
  field: str,
  form: LeafStep,
  step: Callable[[Any, Optional[optax.Params]], tuple[_Coefficients, dict[str, Any]]],
  needs_params: Optional[str],
) -> optax.GradientTransformationExtraArgs:
  """An INDIAN transformation from one form of the step.

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
    new_updates, memory = _step_leaves(form, coefficients, updates, memory, params)
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
  afterwards is not INDIAN at a smaller step.

  Exact for every valid :math:`(\gamma_k, \alpha, \beta)`. Where :math:`|1 - \alpha\gamma_k|
  \ge 1/2` is known when it is built (concrete values, or :func:`power_decay`), :math:`u_k`
  is read from :math:`\varphi_{k+1}` and a donated step runs in place on every backend;
  elsewhere both are computed from :math:`\varphi_k`, which costs one state-sized copy
  per leaf on XLA:CPU (none on XLA:GPU). When :math:`\alpha\beta` changes, :math:`\varphi`
  is carried to the new basis, :math:`\varphi \mathrel{+}= (\alpha_k\beta_k -
  \alpha_{k-1}\beta_{k-1})\theta_k`, with the params: schedules of alpha or beta raise
  ``ValueError`` without them; a traced alpha or beta that changes while ``update`` gets
  no params makes that update and the state NaN (never silently skipped).

  Returns: an :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianState`.
  """
  coupled, decoupled = _is_on(weight_decay), _is_on(decoupled_weight_decay)
  varying = _may_vary(alpha) or _may_vary(beta)

  def init_fn(params: optax.Params) -> IndianState:
    params = floating_params("scale_by_indian", params)
    phi = optax.tree.zeros_like(params, dtype=state_dtype)
    product = _alpha_beta(_at(alpha, 0), _at(beta, 0))
    return IndianState(count=jnp.zeros([], jnp.int32), phi=phi, alpha_beta=product)

  options = _Coefficients(
    learning_rate, alpha, beta,
    weight_decay=weight_decay if coupled else None,
    decoupled_weight_decay=decoupled_weight_decay if decoupled else None,
    initial_speed=initial_speed,
  )  # fmt: skip
  step = functools.partial(_phi_coefficients, options, varying)
  needs_params = "weight decay needs the params" if coupled or decoupled else None
  in_place = not varying and _known_well_conditioned(learning_rate, alpha)
  form = _phi_step_in_place if in_place else _phi_step
  return _inertial_transformation("scale_by_indian", init_fn, "phi", form, step, needs_params)


def _phi_coefficients(options: _Coefficients, varying: bool, state: IndianState, params):
  """Step k's coefficients from the factory's ``options``, and the new ``alpha_beta``."""
  count = state.count
  lr, a, b = (_at(options[i], count) for i in range(3))
  product, change = _alpha_beta(a, b), None  # constants: no basis change
  if varying:
    change = jnp.where(count == 0, 0.0, product - state.alpha_beta)
    if params is None:
      if callable(options.alpha) or callable(options.beta):
        raise ValueError(f"scale_by_indian: {_SCHEDULES_NEED_PARAMS}")
      lr = jnp.where(change == 0, lr, jnp.nan)  # a change that cannot be carried out
      change = None
  c = options._replace(learning_rate=lr, alpha=a, beta=b, first_step=count == 0)
  return c._replace(basis_change=change), {"alpha_beta": product}


def _alpha_beta(alpha: Any, beta: Any) -> jax.Array:
  """The product φ's basis is kept as: real (inject_hyperparams may cast to complex), float."""
  return jnp.asarray(jnp.real(alpha * beta), float)


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
  r"""The INDIAN step kept in :math:`\psi - \theta`, with the params (INNAprop's core).

  After decoupled weight decay :math:`\tilde\theta_k = (1-\gamma_k\lambda)\theta_k` (:math:`\psi`
  untouched), the paper's step with :math:`\alpha_k, \beta_k` (see :func:`indian`) is
  carried out in :math:`d = \psi - \theta`, whose recursion has no decay factor:

  .. math::

    d_{k+1} = d_k + \gamma_k\lambda\theta_k + \gamma_k\beta_k g_k, \qquad
    u_k = -\gamma_k\lambda\theta_k - \gamma_k\big(\alpha_k\tilde\theta_k
        + \tfrac1{\beta_k} d_{k+1} + (\beta_k - \gamma_k)\, g_k\big),

  from :math:`d_0 = -\alpha_0\beta_0\theta_0` (the authors' :math:`\psi_0`, formed at the
  first update: ``init`` is shape-only). No coefficient can vanish: the step is exact at
  every :math:`(\gamma_k, \alpha_k, \beta_k)`, :math:`\gamma_k = \beta_k` included (where the
  authors' form divides by :math:`\beta - \gamma`); :math:`\alpha, \beta` may change at no
  cost; :math:`u_k` reads the new state (in place when donated). Needs the params.

  Args:
    learning_rate: the step size :math:`\gamma_k`, a float, array or schedule.
    alpha: viscous damping :math:`\alpha \ge 0`, a float, array or schedule.
    beta: Newtonian damping :math:`\beta > 0`, a float, array or schedule.
    decoupled_weight_decay: decoupled weight decay :math:`\lambda \ge 0` (None: off).
    state_dtype: dtype of :math:`\psi - \theta` (default: the params' dtype).

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with an :class:`IndianPsiState`.
  """
  decay = decoupled_weight_decay if _is_on(decoupled_weight_decay) else None

  def init_fn(params: optax.Params) -> IndianPsiState:
    params = floating_params("scale_by_indian_psi", params)
    offset = optax.tree.zeros_like(params, dtype=state_dtype)
    return IndianPsiState(count=jnp.zeros([], jnp.int32), psi_minus_params=offset)

  def step(state: IndianPsiState, params: Optional[optax.Params]):
    count = state.count
    c = _Coefficients(
      _at(learning_rate, count), _at(alpha, count), _at(beta, count),
      decoupled_weight_decay=decay, first_step=count == 0,
    )  # fmt: skip
    return c, {}

  needs_params = "weight decay needs the params" if decay is not None else "its state"
  return _inertial_transformation(
    "scale_by_indian_psi", init_fn, "psi_minus_params", _psi_minus_params_step, step,
    f"{needs_params} (psi - theta) needs the params",
  )  # fmt: skip


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
  if isinstance(state, IndianPsiState):  # psi_0 = (1 - alpha beta) theta_0 is formed at step 0
    psi = lambda offset, theta: jnp.where(
      state.count == 0, (1.0 - alpha * beta) * theta, offset + theta
    ).astype(theta.dtype)
    return jax.tree.map(psi, state.psi_minus_params, params)
  # phi is expressed in the basis of the last step's alpha*beta, where it was kept.
  return jax.tree.map(
    lambda phi, theta: (phi + (1.0 - state.alpha_beta) * theta).astype(theta.dtype),
    state.phi, params,
  )  # fmt: skip

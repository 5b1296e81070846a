"""Inspecting the compiled optimizer step: the state-sized copies XLA may insert.

An optimizer step is memory-bound. If the parameter update reads the old state in
one fusion while another fusion overwrites the state in place, XLA inserts a copy
of the state, and the step costs several more passes over memory. XLA:CPU writes one
output per loop; XLA:GPU fuses both into one loop. See ``docs/algorithm.md`` ("Cost").
"""

import re
from typing import Any, Optional

import jax
import optax
from jax.sharding import SingleDeviceSharding

_COPY = re.compile(r"=\s*\w+\[([\d,]*)\]\S*\s+copy\(")


def compiled_step_text(
  tx: optax.GradientTransformation, params: optax.Params, platform: Optional[str] = None
) -> str:
  """The optimized HLO of one donated step: ``update`` then ``optax.apply_updates``.

  Args:
    tx: the transformation.
    params: example params (only shapes and dtypes are used); the gradients are
      taken to be like the params.
    platform: the backend to compile for (``"cpu"``, ``"gpu"`` ...; default: JAX's
      default backend). Buffer assignment, hence the copies, differs between backends.

  Returns:
    The text of the compiled step, jitted with params and state donated.
  """

  def step(params: Any, state: Any, grads: Any) -> tuple[Any, Any]:
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  device = jax.devices(platform)[0]
  on_device = lambda x: jax.ShapeDtypeStruct(
    x.shape, x.dtype, sharding=SingleDeviceSharding(device)
  )
  params = jax.tree.map(on_device, params)
  abstract_state = jax.tree.map(on_device, jax.eval_shape(tx.init, params))
  lowered = jax.jit(step, donate_argnums=(0, 1)).lower(params, abstract_state, params)
  return lowered.compile().as_text() or ""


def count_state_sized_copies(
  tx: optax.GradientTransformation, params: optax.Params, platform: Optional[str] = None
) -> int:
  """How many ``copy`` instructions of a param-sized array the compiled donated step holds.

  ``platform`` as in :func:`compiled_step_text`.

  Example:
    >>> import jax.numpy as jnp, optax, indian_optax
    >>> params = {"w": jnp.zeros((256, 256)), "b": jnp.zeros(256)}
    >>> momentum = optax.sgd(0.1, momentum=0.9)  # its update reads the new state
    >>> indian_optax.diagnostics.count_state_sized_copies(momentum, params, "cpu")
    0
  """
  shapes = {tuple(leaf.shape) for leaf in jax.tree.leaves(params) if leaf.ndim}
  copies = 0
  for match in _COPY.finditer(compiled_step_text(tx, params, platform)):
    shape = tuple(int(d) for d in match.group(1).split(",") if d)
    copies += shape in shapes
  return copies

"""Inspecting the compiled optimizer step: the state-sized copies XLA may insert.

An optimizer step is memory-bound. If the parameter update reads the old state in
one fusion while another fusion overwrites the state in place, XLA inserts a copy
of the state, and the step costs several more passes over memory. XLA:CPU writes one
output per loop. On a GPU, XLA fused both loops of the step *before* the one-step core
(measured on an H200 at commit aceded7); the current step has not been measured on a GPU.
See ``docs/algorithm.md`` ("Cost").
"""

import re
from typing import Any, NamedTuple, Optional

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


class Loop(NamedTuple):
  """One top-level instruction of a compiled step and the param-sized arrays it moves."""

  name: str
  opcode: str  # ``fusion``, ``copy`` ...
  reads: int
  writes: int


_INSTRUCTION = re.compile(
  r"^\s*(?:ROOT )?%?(?P<name>[\w.\-]+) = (?P<shape>.*?) (?P<opcode>[a-z][\w\-]*)\((?P<rest>.*)$"
)
_MOVES_NOTHING = {"parameter", "constant", "tuple", "get-tuple-element", "bitcast"}


def memory_passes(
  tx: optax.GradientTransformation, size: int = 1_000_003, platform: Optional[str] = None
) -> list[Loop]:
  """The passes over param-sized memory of one donated step on one float32 leaf of ``size``.

  Reads the compiled step's entry computation: each instruction that moves data, with how
  many arrays of the leaf's shape it reads and writes (a loop fusion of XLA:CPU writes one;
  a ``copy`` reads one and writes one). The sum is the step's traffic in units of the params.

  Example:
    >>> import optax, indian_optax
    >>> loops = indian_optax.diagnostics.memory_passes(optax.sgd(0.1, momentum=0.9), 1000, "cpu")
    >>> sum(loop.reads + loop.writes for loop in loops)  # m <- (g, m); theta <- (theta, m)
    6
  """
  text = compiled_step_text(tx, jax.ShapeDtypeStruct((size,), "float32"), platform)
  leaf = f"f32[{size}]"
  entry = text[text.index("\nENTRY ") :]
  entry = entry[: entry.index("\n}")]
  instructions = [m for m in map(_INSTRUCTION.match, entry.splitlines()[1:]) if m is not None]
  shapes = {m["name"]: m["shape"] for m in instructions}
  loops = []
  for match in instructions:
    if match["opcode"] in _MOVES_NOTHING:
      continue
    operands = re.findall(r"%([\w.\-]+)", match["rest"].split(")")[0])
    reads = sum(shapes.get(name, "").count(leaf) for name in operands)
    writes = match["shape"].count(leaf)
    if reads or writes:
      loops.append(Loop(match["name"], match["opcode"], reads, writes))
  return loops


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

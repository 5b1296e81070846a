"""Tree helpers shared by the transformations."""

from typing import Any

import jax
import jax.numpy as jnp
import optax


def unzip_leaves(like: Any, pairs: Any) -> tuple[Any, Any]:
  """Splits a tree of ``(a, b)`` leaf results (shaped like ``like``) into two trees."""
  first = jax.tree.map(lambda _, pair: pair[0], like, pairs)
  second = jax.tree.map(lambda _, pair: pair[1], like, pairs)
  return first, second


def floating_params(name: str, params: optax.Params) -> optax.Params:
  """The params with Python scalars as arrays; integer params refused (no step can move them)."""
  params = jax.tree.map(
    lambda p: jnp.asarray(p, float) if isinstance(p, (int, float)) else p, params
  )
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    if not jnp.issubdtype(leaf.dtype, jnp.inexact):
      raise ValueError(
        f"{name}: params{jax.tree_util.keystr(path)} has dtype {leaf.dtype}: only floating or "
        "complex params can be optimized (cast it, or leave it out with optax.masked)"
      )
  return params

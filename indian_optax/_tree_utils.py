"""Tree helpers shared by the transformations."""

from typing import Any

import jax


def unzip_leaves(like: Any, pairs: Any) -> tuple[Any, Any]:
  """Splits a tree of ``(a, b)`` leaf results (shaped like ``like``) into two trees."""
  first = jax.tree.map(lambda _, pair: pair[0], like, pairs)
  second = jax.tree.map(lambda _, pair: pair[1], like, pairs)
  return first, second

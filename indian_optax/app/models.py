"""Flax NNX classifiers for the main job, in the functional form a vmapped sweep needs."""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

MODELS = ("mlp", "cnn")


class MLP(nnx.Module):
  """Flatten, two ReLU layers, logits."""

  def __init__(self, in_features: int, num_classes: int, *, hidden: int = 128, rngs: nnx.Rngs):
    self.hidden1 = nnx.Linear(in_features, hidden, rngs=rngs)
    self.hidden2 = nnx.Linear(hidden, hidden, rngs=rngs)
    self.logits = nnx.Linear(hidden, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(self.hidden1(x))
    return self.logits(jax.nn.relu(self.hidden2(x)))


class CNN(nnx.Module):
  """Two strided ReLU convolutions (2-D for images, 1-D for signals), then logits."""

  def __init__(self, sample_shape: tuple[int, ...], num_classes: int, *, rngs: nnx.Rngs):
    *spatial, channels = sample_shape
    kernel = (3,) * len(spatial)
    self.conv1 = nnx.Conv(channels, 16, kernel, strides=1, rngs=rngs)
    self.conv2 = nnx.Conv(16, 32, kernel, strides=2, rngs=rngs)
    # A dry run gives the flattened size for any spatial shape.
    features = jax.eval_shape(self._features, jnp.zeros((1, *sample_shape))).shape[-1]
    self.logits = nnx.Linear(features, num_classes, rngs=rngs)

  def _features(self, x: jax.Array) -> jax.Array:
    x = jax.nn.relu(self.conv1(x))
    x = jax.nn.relu(self.conv2(x))
    return x.reshape(x.shape[0], -1)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.logits(self._features(x))


@dataclasses.dataclass(frozen=True)
class FunctionalModel:
  """A model as two pure functions, ready for ``jax.vmap``.

  Attributes:
    name: ``mlp`` or ``cnn``.
    init: ``key -> params`` (an ``nnx.State`` of the parameters).
    apply: ``(params, x) -> logits``.
  """

  name: str
  init: Callable[[jax.Array], Any]
  apply: Callable[[Any, jax.Array], jax.Array]


def make_model(
  name: str, sample_shape: tuple[int, ...], num_classes: int, *, hidden: int = 128
) -> FunctionalModel:
  """Builds an NNX model and splits it into ``init`` and ``apply`` functions.

  Args:
    name: ``mlp`` or ``cnn``.
    sample_shape: shape of one input, e.g. ``(8, 8, 1)`` or ``(40, 1)``.
    num_classes: number of logits.
    hidden: width of the MLP's hidden layers.

  Returns:
    The :class:`FunctionalModel`.

  Raises:
    ValueError: unknown model name, or a CNN on inputs without a spatial axis.
  """
  build: Callable[[nnx.Rngs], nnx.Module]
  if name == "mlp":
    in_features = int(jnp.prod(jnp.asarray(sample_shape)))
    build = lambda rngs: MLP(in_features, num_classes, hidden=hidden, rngs=rngs)
  elif name == "cnn":
    if len(sample_shape) not in (2, 3):
      raise ValueError(
        f"model 'cnn' needs signals (length, channels) or images (height, width, "
        f"channels), got samples of shape {sample_shape}"
      )
    build = lambda rngs: CNN(tuple(sample_shape), num_classes, rngs=rngs)
  else:
    raise ValueError(f"unknown model {name!r}: use {' or '.join(MODELS)}")

  graphdef, _ = nnx.split(nnx.eval_shape(lambda: build(nnx.Rngs(0))))

  def init(key: jax.Array) -> Any:
    return nnx.split(build(nnx.Rngs(params=key)))[1]

  def apply(params: Any, x: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, params)(x)

  return FunctionalModel(name, init, apply)

"""The vmapped sweep engine: many training runs of one model as one jitted program."""

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

Params = Any


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy with integer labels, the default loss of :func:`sweep`."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """The outcome of :func:`sweep`, one row per configuration.

  Attributes:
    configs: one dict per run: the grid's hyperparameters and the ``seed``.
    train_loss: ``[runs, epochs]`` mean minibatch loss of each epoch.
    test_accuracy: ``[runs, epochs]`` test accuracy after each epoch.
    final_train_loss: ``[runs]`` loss on the whole training set after training.
    final_test_accuracy: ``[runs]`` test accuracy after training.
    devices: how many devices the configuration axis was spread over.
  """

  configs: list[dict[str, float]]
  train_loss: np.ndarray
  test_accuracy: np.ndarray
  final_train_loss: np.ndarray
  final_test_accuracy: np.ndarray
  devices: int = 1

  def ranking(self) -> list[int]:
    """Run indices, best first: highest final test accuracy, then lowest train loss.

    Diverged runs (non-finite loss) come last.
    """
    accuracy = np.nan_to_num(self.final_test_accuracy, nan=-1.0)
    loss = np.nan_to_num(self.final_train_loss, nan=np.inf, posinf=np.inf)
    return sorted(range(len(self.configs)), key=lambda i: (-accuracy[i], loss[i]))

  def best(self) -> dict[str, Any]:
    """The best run's config with its final metrics."""
    i = self.ranking()[0]
    return dict(
      self.configs[i],
      final_test_accuracy=float(self.final_test_accuracy[i]),
      final_train_loss=float(self.final_train_loss[i]),
    )


def grid_points(grid: Mapping[str, Sequence[float]], seeds: Sequence[int]) -> list[dict]:
  """The cartesian product of the grid (in its key order) and the seeds, seeds varying fastest."""
  names = list(grid)
  return [
    dict(zip(names, values, strict=True), seed=seed)
    for *values, seed in itertools.product(*(grid[n] for n in names), seeds)
  ]


def sweep(
  optimizer: Callable[..., optax.GradientTransformation],
  grid: Mapping[str, Sequence[float]],
  *,
  init_params: Callable[[jax.Array], Params],
  apply_fn: Callable[[Params, jax.Array], jax.Array],
  data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
  epochs: int = 10,
  batch_size: int = 64,
  seeds: Sequence[int] = (0,),
  chunk_size: Optional[int] = None,
  loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = softmax_cross_entropy,
  on_epoch: Optional[Callable[[int, int, float], None]] = None,
  devices: Optional[Sequence[jax.Device]] = None,
) -> SweepResult:
  """Trains one model per grid point and seed, all configurations as one vmapped, jitted program.

  Each configuration starts from ``init_params(key(seed))`` and sees the
  minibatches in an order drawn from its seed only, so runs with the same seed
  differ by their hyperparameters alone. Hyperparameters reach ``optimizer`` as
  traced scalars (keyword arguments named as in ``grid``), so one compilation
  serves the whole grid. The configuration axis is cut into chunks of
  ``chunk_size`` when memory is short; the last chunk is padded, so all chunks
  share one compilation.

  Args:
    optimizer: ``(**hyperparameters) -> GradientTransformation``, e.g.
      ``lambda alpha, beta, learning_rate: indian_optax.indian(learning_rate, alpha, beta)``.
    grid: hyperparameter name -> values; the sweep runs their cartesian product.
    init_params: ``key -> params``.
    apply_fn: ``(params, inputs) -> logits``.
    data: ``(x_train, y_train, x_test, y_test)`` with integer labels.
    epochs: passes over the training set.
    batch_size: minibatch size (the last incomplete minibatch of an epoch is dropped).
    seeds: the seeds each grid point runs with.
    chunk_size: configurations per compiled program (default: all at once).
    loss_fn: ``(logits, labels) -> scalar`` training loss.
    on_epoch: called after each epoch as ``on_epoch(chunk, epoch, mean_loss)``
      (e.g. to drive a progress bar).
    devices: the devices to spread the configuration axis over (default: all of
      ``jax.devices()``). With several, each chunk (rounded up to a multiple of
      their number) is sharded along the configurations through JAX's SPMD
      partitioner: 64 configurations on 8 devices run 8 per device, in one program.

  Returns:
    A :class:`SweepResult`, runs in the order of :func:`grid_points`.

  Example:
    >>> import jax, jax.numpy as jnp, numpy as np, indian_optax
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(256, 4)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> init = lambda key: {"w": 0.1 * jax.random.normal(key, (4, 2))}
    >>> apply = lambda p, x: x @ p["w"]
    >>> result = indian_optax.sweep(
    ...     lambda alpha, beta: indian_optax.indian(0.1, alpha, beta),
    ...     {"alpha": [0.5, 1.0], "beta": [0.1, 0.5]},
    ...     init_params=init, apply_fn=apply, data=(x, y, x, y), epochs=3, batch_size=32)
    >>> result.final_test_accuracy.shape
    (4,)
    >>> sorted(result.best())
    ['alpha', 'beta', 'final_test_accuracy', 'final_train_loss', 'seed']
  """
  if not grid:
    raise ValueError("sweep: the grid is empty")
  for name, values in grid.items():
    if len(values) == 0:
      raise ValueError(f"sweep: no values for {name!r}")
  if epochs < 1 or batch_size < 1:
    raise ValueError(f"sweep: epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
  x_train, y_train, x_test, y_test = (jnp.asarray(a) for a in data)
  batches = len(y_train) // batch_size
  if batches == 0:
    raise ValueError(f"sweep: batch_size {batch_size} exceeds the {len(y_train)} training samples")
  configs = grid_points(grid, seeds)
  names = list(grid)
  chunk_size = len(configs) if chunk_size is None else max(1, min(chunk_size, len(configs)))
  devices = list(jax.devices() if devices is None else devices)
  # No more devices than configurations per chunk; chunks fill every device used.
  devices = devices[: max(1, min(len(devices), chunk_size))]
  chunk_size = -(-chunk_size // len(devices)) * len(devices)
  placement = _placement(devices)
  x_train, y_train, x_test, y_test = (
    placement.replicated(a) for a in (x_train, y_train, x_test, y_test)
  )

  def start(hyper, seed):
    params_key, order_key = jax.random.split(jax.random.PRNGKey(seed))
    params = init_params(params_key)
    return params, optimizer(**hyper).init(params), order_key

  def evaluate(params, x, y):
    logits = apply_fn(params, x)
    return loss_fn(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

  def epoch(hyper, carry, x_train, y_train, x_test, y_test):
    params, state, key = carry
    key, order_key = jax.random.split(key)
    order = jax.random.permutation(order_key, len(y_train))[: batches * batch_size]
    tx = optimizer(**hyper)

    def step(inner, indices):
      params, state = inner
      x, y = x_train[indices], y_train[indices]
      loss, grads = jax.value_and_grad(lambda p: loss_fn(apply_fn(p, x), y))(params)
      updates, state = tx.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), loss

    (params, state), losses = jax.lax.scan(
      step, (params, state), order.reshape(batches, batch_size)
    )
    _, accuracy = evaluate(params, x_test, y_test)
    return (params, state, key), jnp.mean(losses), accuracy

  start_chunk = jax.jit(jax.vmap(start), out_shardings=placement.configs)
  run_epoch = jax.jit(
    jax.vmap(epoch, in_axes=(0, 0, None, None, None, None)),
    out_shardings=placement.configs,
    donate_argnums=(1,),
  )
  final_loss = jax.jit(jax.vmap(lambda p, x, y: evaluate(p, x, y)[0], in_axes=(0, None, None)))

  train_loss, test_accuracy, final_train_loss = [], [], []
  for chunk in range(math.ceil(len(configs) / chunk_size)):
    members = configs[chunk * chunk_size : (chunk + 1) * chunk_size]
    padded = members + [members[-1]] * (chunk_size - len(members))
    hyper = {n: placement.split(np.asarray([c[n] for c in padded], dtype=float)) for n in names}
    seeds_ = placement.split(np.asarray([c["seed"] for c in padded], dtype=np.uint32))
    carry = start_chunk(hyper, seeds_)
    losses, accuracies = [], []
    for e in range(epochs):
      carry, loss, accuracy = run_epoch(hyper, carry, x_train, y_train, x_test, y_test)
      losses.append(loss)
      accuracies.append(accuracy)
      if on_epoch is not None:
        on_epoch(chunk, e, float(jnp.nanmean(loss[: len(members)])))
    kept = slice(0, len(members))
    train_loss.append(np.stack(losses, axis=1)[kept])
    test_accuracy.append(np.stack(accuracies, axis=1)[kept])
    final_train_loss.append(np.asarray(final_loss(carry[0], x_train, y_train))[kept])

  test_accuracy = np.concatenate(test_accuracy).astype(np.float64)
  return SweepResult(
    configs=configs,
    train_loss=np.concatenate(train_loss).astype(np.float64),
    test_accuracy=test_accuracy,
    final_train_loss=np.concatenate(final_train_loss).astype(np.float64),
    final_test_accuracy=test_accuracy[:, -1],
    devices=len(devices),
  )


@dataclasses.dataclass(frozen=True)
class _Placement:
  """Where a sweep's arrays live: configurations split over the devices, data replicated."""

  configs: Optional[NamedSharding]
  data: Optional[NamedSharding]

  def split(self, array: np.ndarray) -> jax.Array:
    # float becomes the default float type (float32 unless jax_enable_x64).
    array = jnp.asarray(array, dtype=float if array.dtype.kind == "f" else array.dtype)
    return array if self.configs is None else jax.device_put(array, self.configs)

  def replicated(self, array: jax.Array) -> jax.Array:
    return array if self.data is None else jax.device_put(array, self.data)


def _placement(devices: Sequence[jax.Device]) -> _Placement:
  if len(devices) == 1:
    return _Placement(configs=None, data=None)
  mesh = jax.make_mesh((len(devices),), ("configs",), axis_types=(AxisType.Auto,), devices=devices)
  return _Placement(configs=NamedSharding(mesh, P("configs")), data=NamedSharding(mesh, P()))

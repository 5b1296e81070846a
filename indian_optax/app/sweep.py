"""The vmapped sweep engine: many training runs of one model as one jitted program.

The contract of every run of :func:`sweep` (what a hand-written loop must do to
reproduce it):

* The training data are split first by :func:`validation_split` (``val_fraction``,
  ``split_seed``): every run sees the same training and validation sets.
* A run with seed ``s`` starts from ``init_params(k1)`` with ``k1, k2 =
  jax.random.split(jax.random.PRNGKey(s))``. Before each epoch ``k2, k =
  jax.random.split(k2)``, and the epoch's minibatches are the first
  ``len(train) // batch_size`` blocks of ``jax.random.permutation(k, len(train))``
  (the incomplete last one dropped). Runs with the same seed differ by their
  hyperparameters alone.
* After each epoch: the epoch's mean minibatch loss, the validation and the test
  accuracy. After the last: the loss on the whole training set.
* A run whose epoch loss or params are non-finite has ``diverged_at`` (the epoch,
  counted from 1) and NaN metrics from then on.
* Runs are ranked by ``select`` (:class:`~indian_optax.app.SweepResult`); the test
  split is evaluated and reported, never read to choose.

Example:
  >>> import jax, numpy as np, indian_optax
  >>> from indian_optax import app
  >>> rng = np.random.default_rng(0)
  >>> x = rng.normal(size=(256, 4)).astype(np.float32)
  >>> y = (x[:, 0] > 0).astype(np.int32)
  >>> result = app.sweep(
  ...     lambda alpha, beta: indian_optax.indian(0.1, alpha, beta),
  ...     {"alpha": [0.5, 1.0], "beta": [0.1, 0.5]},
  ...     init_params=lambda key: {"w": 0.1 * jax.random.normal(key, (4, 2))},
  ...     apply_fn=lambda p, x: x @ p["w"], data=(x, y, x, y), epochs=3, batch_size=32)
  >>> result.final_test_accuracy.shape
  (4,)
  >>> sorted(result.best())  # the best setting, by validation accuracy
  ['alpha', 'beta', 'diverged', 'final_test_accuracy', 'final_train_loss',
   'final_val_accuracy', 'seeds']
"""

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from indian_optax.app.results import SELECTIONS, SweepResult

Params = Any
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy with integer labels, the default loss of :func:`sweep`."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


class EpochProgress(NamedTuple):
  """What :func:`sweep` reports to ``on_epoch`` after each epoch of each chunk.

  Attributes:
    chunk: the chunk's index (from 0).
    chunks: how many chunks the sweep has.
    epoch: the epoch just finished (from 0).
    live_loss: the epoch's mean training loss over the chunk's runs that have
      not diverged (NaN when none is left).
    diverged: how many runs of the whole sweep have diverged so far.
    runs: how many runs the sweep has.
  """

  chunk: int
  chunks: int
  epoch: int
  live_loss: float
  diverged: int
  runs: int


def grid_points(grid: Mapping[str, Sequence[float]], seeds: Sequence[int]) -> list[dict]:
  """The cartesian product of the grid (in its key order) and the seeds, seeds varying fastest."""
  names = list(grid)
  return [
    dict(zip(names, values, strict=True), seed=seed)
    for *values, seed in itertools.product(*(grid[n] for n in names), seeds)
  ]


def validation_split(
  x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Holds out a seeded, stratified ``fraction`` of ``(x, y)`` for validation.

  Each class gives ``round(fraction * its size)`` samples (at most all but one),
  drawn with ``numpy.random.default_rng(seed)``; both parts keep the original order.

  Returns:
    ``(x_train, y_train, x_val, y_val)``; the validation part is empty for
    ``fraction == 0``.
  """
  if not 0.0 <= fraction < 1.0:
    raise ValueError(f"val_fraction must be in [0, 1), got {fraction}")
  y = np.asarray(y)
  rng = np.random.default_rng(seed)
  held_out = []
  for label in np.unique(y):
    members = np.flatnonzero(y == label)
    count = min(int(np.floor(fraction * len(members) + 0.5)), max(len(members) - 1, 0))
    held_out.append(rng.permutation(members)[:count])
  val = np.zeros(len(y), dtype=bool)
  val[np.concatenate(held_out).astype(int)] = True
  if fraction > 0 and not val.any():
    raise ValueError(
      f"val_fraction {fraction} holds out no sample of the {len(y)} training samples"
    )
  return x[~val], y[~val], x[val], y[val]


@dataclasses.dataclass(frozen=True)
class Placement:
  """Where a sweep's arrays live: configurations split over the devices, data replicated.

  Attributes:
    devices: the devices the configuration axis is spread over.
    configs: the sharding of per-configuration arrays (None on one device).
    data: the sharding of the data (replicated; None on one device).
  """

  devices: tuple[jax.Device, ...]
  configs: Optional[NamedSharding]
  data: Optional[NamedSharding]

  @classmethod
  def on(cls, devices: Sequence[jax.Device]) -> "Placement":
    """Spreads the configuration axis over ``devices`` with JAX's SPMD partitioner."""
    devices = tuple(devices)
    if len(devices) == 1:
      return cls(devices, configs=None, data=None)
    mesh = jax.make_mesh(
      (len(devices),), ("configs",), axis_types=(AxisType.Auto,), devices=devices
    )
    return cls(devices, configs=NamedSharding(mesh, P("configs")), data=NamedSharding(mesh, P()))

  def split(self, array: np.ndarray) -> jax.Array:
    """Places a ``[configs, ...]`` array, its first axis spread over the devices."""
    # float becomes the default float type (float32 unless jax_enable_x64).
    placed = jnp.asarray(array, dtype=float if array.dtype.kind == "f" else array.dtype)
    return placed if self.configs is None else jax.device_put(placed, self.configs)

  def replicated(self, array: Any) -> jax.Array:
    """Places an array on every device."""
    array = jnp.asarray(array)
    return array if self.data is None else jax.device_put(array, self.data)


class _Program(NamedTuple):
  """The compiled pieces of a sweep, shared by every chunk of one shape."""

  start: Callable[..., Any]
  epoch: Callable[..., Any]
  final_loss: Callable[..., Any]


def _compile(optimizer, init_params, apply_fn, loss_fn, batch_size, batches, placement):
  """The vmapped, jitted start, epoch and final-loss functions of a sweep."""

  def start(hyper, seed):
    params_key, order_key = jax.random.split(jax.random.PRNGKey(seed))
    params = init_params(params_key)
    return params, optimizer(**hyper).init(params), order_key

  def accuracy(params, x, y):
    return jnp.mean(jnp.argmax(apply_fn(params, x), -1) == y)

  def epoch(hyper, carry, x_train, y_train, x_val, y_val, x_test, y_test):
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
    loss = jnp.mean(losses)
    params_finite = jnp.all(jnp.array([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
    metrics = (loss, accuracy(params, x_val, y_val), accuracy(params, x_test, y_test))
    return (params, state, key), metrics, jnp.isfinite(loss) & params_finite

  data_axes = (None,) * 6
  return _Program(
    start=jax.jit(jax.vmap(start), out_shardings=placement.configs),
    epoch=jax.jit(
      jax.vmap(epoch, in_axes=(0, 0, *data_axes)),
      out_shardings=placement.configs,
      donate_argnums=(1,),
    ),
    final_loss=jax.jit(
      jax.vmap(lambda p, x, y: loss_fn(apply_fn(p, x), y), in_axes=(0, None, None))
    ),
  )


def _check_arguments(grid, seeds, epochs, batch_size, select, val_fraction) -> None:
  if not grid:
    raise ValueError("sweep: the grid is empty")
  for name, values in grid.items():
    if len(values) == 0:
      raise ValueError(f"sweep: no values for {name!r}")
  if epochs < 1 or batch_size < 1:
    raise ValueError(f"sweep: epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
  if len(seeds) == 0:
    raise ValueError("sweep: seeds is empty: give at least one seed")
  bad = [s for s in seeds if int(s) != s or not 0 <= s < 2**32]
  if bad:
    raise ValueError(f"sweep: seeds must be integers in [0, 2**32), got {bad[0]!r}")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"sweep: seeds must be distinct, got {list(seeds)}")
  if select not in SELECTIONS:
    raise ValueError(f"sweep: select must be one of {', '.join(SELECTIONS)}, got {select!r}")
  if not 0.0 <= val_fraction < 1.0:
    raise ValueError(f"sweep: val_fraction must be in [0, 1), got {val_fraction}")
  if select == "val_accuracy" and val_fraction == 0:
    raise ValueError("sweep: select='val_accuracy' needs a validation split (val_fraction > 0)")


def _chunking(configs: int, chunk_size: Optional[int], devices: Sequence[jax.Device]):
  """(chunk size, devices used): no more devices than a chunk's configs, chunks fill them."""
  chunk_size = configs if chunk_size is None else max(1, min(chunk_size, configs))
  devices = list(devices)[: max(1, min(len(devices), chunk_size))]
  return -(-chunk_size // len(devices)) * len(devices), devices


def _resumed_runs(resume_from: Optional[SweepResult], configs: list[dict], chunk_size: int) -> int:
  """How many leading runs ``resume_from`` already holds (whole chunks of this sweep)."""
  if resume_from is None:
    return 0
  done = len(resume_from.configs)
  if resume_from.configs != configs[:done] or (done % chunk_size and done != len(configs)):
    raise ValueError(
      "sweep: resume_from does not hold whole chunks of this sweep (different grid, seeds, "
      "name or chunk size)"
    )
  return done


class _Chunk(NamedTuple):
  configs: list[dict]
  metrics: np.ndarray  # [3, runs, epochs]: train loss, val accuracy, test accuracy
  finite: np.ndarray  # [runs, epochs]
  final_loss: np.ndarray  # [runs]


def _run_chunk(program, placement, names, members, chunk_size, epochs, data, report) -> _Chunk:
  """Trains one chunk of configurations (padded to ``chunk_size``) for every epoch."""
  padded = members + [members[-1]] * (chunk_size - len(members))
  hyper = {n: placement.split(np.asarray([c[n] for c in padded], dtype=float)) for n in names}
  seeds = placement.split(np.asarray([c["seed"] for c in padded], dtype=np.uint32))
  carry = program.start(hyper, seeds)
  metrics, finite = [], []
  kept = len(members)
  for epoch in range(epochs):
    carry, values, ok = program.epoch(hyper, carry, *data)
    metrics.append(np.stack([np.asarray(v, dtype=np.float64)[:kept] for v in values]))
    finite.append(np.asarray(ok)[:kept])
    live = np.all(np.stack(finite, axis=1), axis=1)
    report(epoch, metrics[-1][0][live], int(np.sum(~live)))
  final_loss = np.asarray(program.final_loss(carry[0], data[0], data[1]), np.float64)[:kept]
  return _Chunk(members, np.stack(metrics, axis=2), np.stack(finite, axis=1), final_loss)


def _chunk_result(chunk: _Chunk, select: str, devices: int) -> SweepResult:
  """A chunk as a SweepResult: metrics NaN from the epoch a run diverged on."""
  ever_bad = np.cumsum(~chunk.finite, axis=1) > 0
  metrics = np.where(ever_bad[None], np.nan, chunk.metrics)
  diverged_at = [int(np.argmax(row)) + 1 if row.any() else None for row in ever_bad]
  final_loss = np.where(ever_bad[:, -1] | ~np.isfinite(chunk.final_loss), np.nan, chunk.final_loss)
  return SweepResult(
    configs=chunk.configs,
    train_loss=metrics[0],
    val_accuracy=metrics[1],
    test_accuracy=metrics[2],
    final_train_loss=final_loss,
    diverged_at=diverged_at,
    selection=select,
    devices=devices,
  )


def sweep(
  optimizer: Callable[..., optax.GradientTransformation],
  grid: Mapping[str, Sequence[float]],
  *,
  init_params: Callable[[jax.Array], Params],
  apply_fn: Callable[[Params, jax.Array], jax.Array],
  data: Data,
  epochs: int = 10,
  batch_size: int = 64,
  seeds: Sequence[int] = (0,),
  val_fraction: float = 0.1,
  select: str = "val_accuracy",
  split_seed: int = 0,
  chunk_size: Optional[int] = None,
  loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = softmax_cross_entropy,
  name: Optional[str] = None,
  on_epoch: Optional[Callable[[EpochProgress], None]] = None,
  on_chunk: Optional[Callable[[SweepResult], None]] = None,
  resume_from: Optional[SweepResult] = None,
  devices: Optional[Sequence[jax.Device]] = None,
) -> SweepResult:
  """Trains one model per grid point and seed, all as one vmapped, jitted program.

  Each run follows this module's contract. Hyperparameters reach ``optimizer`` as
  traced scalars (keyword arguments named as in ``grid``): one compilation per chunk
  shape serves the grid. Chunks (``chunk_size`` configurations, the last padded) are
  spread over ``devices`` (default: all) by JAX's SPMD partitioner.

  Args:
    optimizer: ``(**hyperparameters) -> GradientTransformation``.
    grid: hyperparameter name -> values; the sweep runs their product with ``seeds``.
    init_params, apply_fn: ``key -> params`` and ``(params, inputs) -> logits``.
    data: ``(x_train, y_train, x_test, y_test)`` with integer labels.
    epochs, batch_size: passes over the training set, and minibatch size.
    seeds: distinct seeds in ``[0, 2**32)`` for each grid point.
    val_fraction, split_seed: the validation split, a fraction in ``[0, 1)``.
    select: ``"val_accuracy"`` (default) or ``"train_loss"`` (the INDIAN paper's rule).
    chunk_size: configurations per compiled program (default: all at once).
    loss_fn: ``(logits, labels) -> scalar`` training loss.
    name: recorded as ``optimizer`` in every config.
    on_epoch: called with an :class:`EpochProgress` after each epoch of each chunk.
    on_chunk: called after each chunk with every run finished so far.
    resume_from: a partial result of this same sweep: its chunks are not run again.
    devices: the devices the configuration axis is spread over.

  Returns:
    A :class:`~indian_optax.app.SweepResult`, runs in the order of :func:`grid_points`.
  """
  seeds = list(seeds)
  _check_arguments(grid, seeds, epochs, batch_size, select, val_fraction)
  splits, batches = _splits(data, val_fraction, split_seed, batch_size)
  configs = [{"optimizer": name, **c} if name else c for c in grid_points(grid, seeds)]
  devices = jax.devices() if devices is None else devices
  chunk_size, devices = _chunking(len(configs), chunk_size, devices)
  placement = Placement.on(devices)
  program = _compile(optimizer, init_params, apply_fn, loss_fn, batch_size, batches, placement)
  loop = _ChunkLoop(program, placement, list(grid), configs, chunk_size, epochs, select)
  splits = tuple(placement.replicated(a) for a in splits)
  return loop.run(splits, resume_from, on_epoch, on_chunk)


def _splits(data: Data, val_fraction: float, split_seed: int, batch_size: int):
  """(train, validation, test arrays), and the number of minibatches per epoch."""
  x_train, y_train, x_test, y_test = (np.asarray(a) for a in data)
  x_train, y_train, x_val, y_val = validation_split(x_train, y_train, val_fraction, seed=split_seed)
  batches = len(y_train) // batch_size
  if batches == 0:
    raise ValueError(f"sweep: batch_size {batch_size} exceeds the {len(y_train)} training samples")
  return (x_train, y_train, x_val, y_val, x_test, y_test), batches


@dataclasses.dataclass(frozen=True)
class _ChunkLoop:
  """Runs a sweep's chunks in order, reporting each epoch and handing over each chunk."""

  program: _Program
  placement: Placement
  names: list[str]
  configs: list[dict]
  chunk_size: int
  epochs: int
  select: str

  def run(self, splits, resume_from, on_epoch, on_chunk) -> SweepResult:
    total, devices = len(self.configs), len(self.placement.devices)
    done = _resumed_runs(resume_from, self.configs, self.chunk_size)
    parts = [] if resume_from is None else [resume_from]
    chunks = math.ceil(total / self.chunk_size)
    for chunk in range(done // self.chunk_size, chunks):
      members = self.configs[chunk * self.chunk_size : (chunk + 1) * self.chunk_size]
      before = sum(d is not None for p in parts for d in p.diverged_at)

      def report(epoch, live_losses, diverged, chunk=chunk, before=before):
        if on_epoch is not None:
          live = float(np.mean(live_losses)) if len(live_losses) else math.nan
          on_epoch(EpochProgress(chunk, chunks, epoch, live, before + diverged, total))

      trained = _run_chunk(
        self.program, self.placement, self.names, members, self.chunk_size, self.epochs,
        splits, report,
      )  # fmt: skip
      parts.append(_chunk_result(trained, self.select, devices))
      if on_chunk is not None:
        on_chunk(_assembled(parts, total, self.select, devices))
    return _assembled(parts, total, self.select, devices)


def _assembled(parts: list[SweepResult], total: int, select: str, devices: int) -> SweepResult:
  result = SweepResult.concatenate(parts)
  complete = len(result.configs) == total
  return dataclasses.replace(result, selection=select, devices=devices, complete=complete, info={})

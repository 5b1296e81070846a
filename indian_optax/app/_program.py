"""The compiled program of a sweep and its bookkeeping, shared by full and halving sweeps."""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from indian_optax.app.results import HISTORIES, EpochRecord, SweepResult


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

  def place(self, array: jax.Array) -> jax.Array:
    """Spreads an array's first (configuration) axis over the devices, keeping its dtype."""
    return array if self.configs is None else jax.device_put(array, self.configs)

  def replicated(self, array: Any) -> jax.Array:
    """Places an array on every device."""
    array = jnp.asarray(array)
    return array if self.data is None else jax.device_put(array, self.data)


EVAL_BLOCK = 1024
"""Samples evaluated at once after each epoch (the validation and test sets, the final loss)."""


class Program(NamedTuple):
  """The compiled pieces of a sweep, shared by every chunk of one shape."""

  start: Callable[..., Any]
  epoch: Callable[..., Any]
  final_loss: Callable[..., Any]


def evaluate(apply_fn, loss_fn, params, x, y):
  """Mean loss and accuracy on ``(x, y)``, ``EVAL_BLOCK`` samples at a time (NaN if empty)."""
  samples = len(y)
  if samples == 0:
    return jnp.nan, jnp.nan
  block = min(samples, EVAL_BLOCK)
  whole = samples // block * block

  def sums(xs, ys):
    logits = apply_fn(params, xs)
    loss = loss_fn(logits, ys)
    hits = jnp.sum(jnp.argmax(logits, -1) == ys) / (ys.size / len(ys))  # per sample
    return jnp.stack([loss * len(ys), hits.astype(loss.dtype)])

  # Blocks bound the memory of the evaluation (a language model's logits, say):
  # a mean loss is the size-weighted mean of its blocks' means.
  shape = lambda a: a[:whole].reshape(whole // block, block, *a.shape[1:])
  total = jnp.sum(jax.lax.map(lambda b: sums(*b), (shape(x), shape(y))), axis=0)
  if whole < samples:
    total = total + sums(x[whole:], y[whole:])
  loss, accuracy = total / samples
  return loss, accuracy


def compile_sweep(optimizer, init_params, apply_fn, loss_fn, batch_size, batches, placement):
  """The vmapped, jitted start, epoch and final-loss functions of a sweep."""

  def start(hyper, seed):
    params_key, order_key = jax.random.split(jax.random.PRNGKey(seed))
    params = init_params(params_key)
    return params, optimizer(**hyper).init(params), order_key

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
    val_loss, val_accuracy = evaluate(apply_fn, loss_fn, params, x_val, y_val)
    test_loss, test_accuracy = evaluate(apply_fn, loss_fn, params, x_test, y_test)
    record = EpochRecord(
      train_loss=loss, val_accuracy=val_accuracy, test_accuracy=test_accuracy,
      val_loss=val_loss, test_loss=test_loss,
    )  # fmt: skip
    return (params, state, key), record, jnp.isfinite(loss) & params_finite

  data_axes = (None,) * 6
  return Program(
    start=jax.jit(jax.vmap(start), out_shardings=placement.configs),
    epoch=jax.jit(
      jax.vmap(epoch, in_axes=(0, 0, *data_axes)),
      out_shardings=placement.configs,
      donate_argnums=(1,),
    ),
    final_loss=jax.jit(
      jax.vmap(lambda p, x, y: evaluate(apply_fn, loss_fn, p, x, y)[0], in_axes=(0, None, None))
    ),
  )


@dataclasses.dataclass(frozen=True)
class SweepJob:
  """What every loop of a sweep runs: the program, where, which configs, and for how long."""

  program: Program
  placement: Placement
  names: list[str]  # the swept hyperparameters, in the grid's order
  configs: list[dict]
  chunk_size: int  # runs per program, a multiple of the device count
  epochs: int
  select: str


class Chunk(NamedTuple):
  """What the runs of one batch recorded: metrics per epoch, finiteness, final loss."""

  configs: list[dict]
  metrics: np.ndarray  # [len(HISTORIES), runs, epochs]: EpochRecord's fields, in order
  finite: np.ndarray  # [runs, epochs]
  final_loss: np.ndarray  # [runs]


@dataclasses.dataclass
class RunGroup:
  """Runs training together in one program: their hyperparameters and their carries.

  ``size`` rows (a multiple of the device count), of which the first ``kept`` are real
  runs and the rest padding (copies of the last).
  """

  hyper: dict[str, jax.Array]
  carry: Any
  kept: int

  @classmethod
  def start(cls, program: Program, placement: Placement, names, members, size) -> "RunGroup":
    """Fresh runs of the configs ``members``, padded to ``size``."""
    padded = members + [members[-1]] * (size - len(members))
    hyper = {n: placement.split(np.asarray([c[n] for c in padded], dtype=float)) for n in names}
    seeds = placement.split(np.asarray([c["seed"] for c in padded], dtype=np.uint32))
    return cls(hyper, program.start(hyper, seeds), len(members))

  def rows(self, rows: Sequence[int], size: int, placement: Placement) -> "RunGroup":
    """The given rows, in order, padded to ``size``: survivors of a rung, say."""
    index = np.asarray(list(rows) + [rows[-1]] * (size - len(rows)))
    pick = lambda x: placement.place(jnp.take(x, index, axis=0))
    return RunGroup(jax.tree.map(pick, self.hyper), jax.tree.map(pick, self.carry), len(rows))

  def train(self, program: Program, data, epochs: range, report) -> tuple[np.ndarray, np.ndarray]:
    """Trains for ``epochs``; returns metrics ``[5, kept, n]`` and finiteness ``[kept, n]``."""
    metrics, finite = [], []
    kept = self.kept
    for epoch in epochs:
      self.carry, record, ok = program.epoch(self.hyper, self.carry, *data)
      record, ok = jax.device_get((record, ok))  # one transfer for the epoch's numbers
      values = {h: np.asarray(getattr(record, h), dtype=np.float64)[:kept] for h in HISTORIES}
      metrics.append(np.stack([values[h] for h in HISTORIES]))
      finite.append(np.asarray(ok)[:kept])
      live = np.all(np.stack(finite, axis=1), axis=1)
      report(epoch, values["train_loss"][live], int(np.sum(~live)))
    return np.stack(metrics, axis=2), np.stack(finite, axis=1)

  def final_loss(self, program: Program, data) -> np.ndarray:
    """``[kept]`` the loss on the whole training set now."""
    return np.asarray(program.final_loss(self.carry[0], data[0], data[1]), np.float64)[: self.kept]


def run_chunk(job: SweepJob, members: list[dict], data, report) -> Chunk:
  """Trains one chunk of ``job``'s configurations (padded to its chunk size) for every epoch."""
  group = RunGroup.start(job.program, job.placement, job.names, members, job.chunk_size)
  metrics, finite = group.train(job.program, data, range(job.epochs), report)
  return Chunk(members, metrics, finite, group.final_loss(job.program, data))


def chunk_result(
  chunk: Chunk, select: str, devices: int, epochs_trained: Optional[np.ndarray] = None
) -> SweepResult:
  """A chunk as a SweepResult: metrics NaN from the epoch a run diverged on.

  Epochs a run did not train (``epochs_trained``) hold NaN and count as finite.
  """
  ever_bad = np.cumsum(~chunk.finite, axis=1) > 0
  metrics = np.where(ever_bad[None], np.nan, chunk.metrics)
  diverged_at = [int(np.argmax(row)) + 1 if row.any() else None for row in ever_bad]
  final_loss = np.where(ever_bad[:, -1] | ~np.isfinite(chunk.final_loss), np.nan, chunk.final_loss)
  return SweepResult(
    configs=chunk.configs,
    **dict(zip(HISTORIES, metrics, strict=True)),
    final_train_loss=final_loss,
    diverged_at=diverged_at,
    epochs_trained=epochs_trained,
    selection=select,
    devices=devices,
  )

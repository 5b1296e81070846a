"""The sweep engine: one compiled program, and one loop that runs it, full sweep or halving.

A sweep's runs train in groups of ``chunk_size`` configurations, each group one vmapped,
jitted program spread over the devices. The loop goes through stages: a full sweep has one
stage (every epoch), and successive halving one stage per rung and a last one. After each
rung the settings (the seeds of a grid point together) still training are ranked by the
rule of the final table, :func:`~indian_optax.app.results.rank_key`: the mean over their
seeds of the sweep's selection metric at that epoch (the epoch's mean training loss stands
in for the final one under ``select="train_loss"``), ties to the lower mean training loss.
The best ``ceil(n / eta)`` continue, and a setting any of whose runs diverged (or whose
score is NaN) stops whatever its rank. The survivors' params and optimizer states are
gathered into smaller groups: one compilation per group shape. A stopped run keeps its
history up to its last epoch (``epochs_trained``); its later epochs are absent (NaN).
"""

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from indian_optax.app.results import HISTORIES, EpochRecord, SweepResult, higher_is_better, rank_key


class SweepArgumentError(ValueError):
  """A bad argument of :func:`sweep`, named by ``argument`` (the command line maps it to its
  option, so one check gives both the API's exception and the command's one line)."""

  def __init__(self, argument: str, message: str, owner: str = "sweep"):
    super().__init__(f"{owner}: {message}")
    self.argument, self.message = argument, message


class EpochProgress(NamedTuple):
  """What :func:`~indian_optax.app.sweep` reports to ``on_epoch`` after each epoch of each group.

  Attributes:
    chunk: the group of runs just trained (from 0) in the current stage.
    chunks: how many groups the current stage has.
    epoch: the epoch just finished (from 0).
    live_loss: the epoch's mean training loss over the group's runs that have not
      diverged (NaN when none is left).
    diverged: how many runs of the whole sweep have diverged so far.
    runs: how many runs the sweep has.
    done: group-epochs trained so far (one epoch of one group counts one).
    total: group-epochs the sweep will train, as planned now (halving lowers it when a
      setting stops early).
  """

  chunk: int
  chunks: int
  epoch: int
  live_loss: float
  diverged: int
  runs: int
  done: int
  total: int


class Splits(NamedTuple):
  """The data a sweep trains, selects and tests on (placed on the devices)."""

  x_train: Any
  y_train: Any
  x_val: Any
  y_val: Any
  x_test: Any
  y_test: Any


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


class Program(NamedTuple):
  """The compiled pieces of a sweep, shared by every group of one shape."""

  start: Callable[..., Any]
  epoch: Callable[..., Any]
  final_loss: Callable[..., Any]


def compile_sweep(
  optimizer, init_params, apply_fn, loss_fn, batch_size, batches, placement, compiler_options=None
):
  """The vmapped, jitted start, epoch and final-loss functions of a sweep; ``compiler_options``
  (XLA debug options, e.g. ``{"xla_cpu_copy_insertion_use_region_analysis": True}``) are
  those the epoch is compiled with."""

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

  data_axes = (None,) * len(Splits._fields)
  return Program(
    start=jax.jit(jax.vmap(start), out_shardings=placement.configs),
    epoch=jax.jit(
      jax.vmap(epoch, in_axes=(0, 0, *data_axes)),
      out_shardings=placement.configs,
      donate_argnums=(1,),
      compiler_options=compiler_options,
    ),
    final_loss=jax.jit(
      jax.vmap(lambda p, x, y: evaluate(apply_fn, loss_fn, p, x, y)[0], in_axes=(0, None, None))
    ),
  )


@dataclasses.dataclass(frozen=True)
class SweepJob:
  """What the loop runs: the program, where, which configs, for how long, how they rank."""

  program: Program
  placement: Placement
  names: list[str]  # the swept hyperparameters, in the grid's order
  configs: list[dict]
  chunk_size: int  # runs per group, a multiple of the device count
  epochs: int
  select: str


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
  def start(cls, job: SweepJob, runs: Sequence[int], size: int) -> "RunGroup":
    """Fresh runs of the configs ``runs``, padded to ``size``."""
    members = [job.configs[r] for r in runs]
    padded = members + [members[-1]] * (size - len(members))
    split = job.placement.split
    hyper = {n: split(np.asarray([c[n] for c in padded], dtype=float)) for n in job.names}
    seeds = split(np.asarray([c["seed"] for c in padded], dtype=np.uint32))
    return cls(hyper, job.program.start(hyper, seeds), len(members))

  @classmethod
  def stacked(cls, groups: Sequence["RunGroup"]) -> "RunGroup":
    """The real (unpadded) rows of several groups, in order, as one group."""
    if len(groups) == 1:
      return groups[0]
    trim = lambda group: jax.tree.map(lambda x: x[: group.kept], (group.hyper, group.carry))
    hyper, carry = jax.tree.map(lambda *xs: jnp.concatenate(xs), *[trim(g) for g in groups])
    return cls(hyper, carry, sum(group.kept for group in groups))

  def rows(self, rows: Sequence[int], size: int, placement: Placement) -> "RunGroup":
    """The given rows, in order, padded to ``size``: survivors of a rung, say."""
    index = np.asarray(list(rows) + [rows[-1]] * (size - len(rows)))
    pick = lambda x: placement.place(jnp.take(x, index, axis=0))
    return RunGroup(jax.tree.map(pick, self.hyper), jax.tree.map(pick, self.carry), len(rows))

  def train(self, program: Program, splits: Splits, epochs: range, report) -> tuple:
    """Trains for ``epochs``; returns metrics ``[5, kept, n]`` and finiteness ``[kept, n]``."""
    metrics, finite = [], []
    for epoch in epochs:
      self.carry, record, ok = program.epoch(self.hyper, self.carry, *splits)
      record, ok = jax.device_get((record, ok))  # one transfer for the epoch's numbers
      values = {h: np.asarray(getattr(record, h), dtype=np.float64)[: self.kept] for h in HISTORIES}
      metrics.append(np.stack([values[h] for h in HISTORIES]))
      finite.append(np.asarray(ok)[: self.kept])
      live = np.all(np.stack(finite, axis=1), axis=1)
      report(epoch, values["train_loss"][live], int(np.sum(~live)))
    return np.stack(metrics, axis=2), np.stack(finite, axis=1)

  def final_loss(self, program: Program, splits: Splits) -> np.ndarray:
    """``[kept]`` the loss on the whole training set now."""
    losses = program.final_loss(self.carry[0], splits.x_train, splits.y_train)
    return np.asarray(losses, np.float64)[: self.kept]


def rung_epochs(epochs: int, eta: float, rungs: Optional[Sequence[int]] = None) -> list[int]:
  """The epochs after which settings are cut: ``rungs``, or ``epochs / eta**k`` (k = 1, 2 ...).

  The geometric default keeps each ``epochs / eta**k`` of at least 1 that rounds to an
  epoch before the last: none when ``epochs / eta`` is below 1 (then nothing is cut).
  """
  if not eta > 1:
    raise SweepArgumentError("halving", f"halving must be > 1, got {eta}")
  if rungs is None:
    rungs, rung = [], epochs / eta  # divided step by step: eta ** k would overflow
    while rung >= 1 and len(rungs) < 64:
      rungs += [round(rung)] if 1 <= round(rung) < epochs else []
      rung /= eta
  chosen = sorted({int(r) for r in rungs})
  if any(not 1 <= r < epochs for r in chosen):
    message = f"rungs must be epochs from 1 to {epochs - 1} (before the last), got {list(rungs)}"
    raise SweepArgumentError("rungs", message)
  return chosen


class _Record:
  """What every run recorded so far: metrics per epoch, finiteness, final loss, epochs."""

  def __init__(self, runs: int, epochs: int):
    self.metrics = np.full((len(HISTORIES), runs, epochs), np.nan)
    self.finite = np.ones((runs, epochs), dtype=bool)
    self.final_loss = np.full(runs, np.nan)
    self.trained = np.zeros(runs, dtype=int)

  def survivors(self, job: SweepJob, alive: list[int], epoch: int, eta: float) -> list[int]:
    """The runs that go on after a rung at ``epoch``: :func:`survivors` of their metrics."""
    history = self.metrics[HISTORIES.index(job.select), :, epoch - 1]
    scores = history if higher_is_better(job.select) else -history
    losses = self.metrics[HISTORIES.index("train_loss"), :, epoch - 1]
    diverged = np.logical_not(self.finite.all(axis=1))
    return survivors(job.configs, alive, scores, losses, diverged, eta)

  def result(self, job: SweepJob, runs: Sequence[int]) -> SweepResult:
    """The given runs as a SweepResult (complete when they are the last of the job's):
    metrics NaN from the epoch a run diverged on.

    Epochs a run did not train hold NaN and count as finite.
    """
    runs = list(runs)
    ever_bad = np.cumsum(~self.finite[runs], axis=1) > 0
    metrics = np.where(ever_bad[None], np.nan, self.metrics[:, runs])
    final_loss = self.final_loss[runs]
    final_loss = np.where(ever_bad[:, -1] | ~np.isfinite(final_loss), np.nan, final_loss)
    histories: dict[str, Any] = dict(zip(HISTORIES, metrics, strict=True))
    return SweepResult(
      configs=[job.configs[r] for r in runs], epochs=job.epochs, **histories,
      final_train_loss=final_loss,
      diverged_at=[int(np.argmax(row)) + 1 if row.any() else None for row in ever_bad],
      epochs_trained=self.trained[runs].copy(), selection=job.select,
      devices=len(job.placement.devices), complete=not runs or runs[-1] == len(job.configs) - 1,
    )  # fmt: skip


def run(
  job: SweepJob,
  splits: Splits,
  *,
  rungs: Sequence[int] = (),
  eta: float = math.inf,
  resume_from: Optional[SweepResult] = None,
  on_epoch: Optional[Callable[[EpochProgress], None]] = None,
  on_chunk: Optional[Callable[[SweepResult], None]] = None,
) -> SweepResult:
  """Trains ``job``'s runs through the stages ``[*rungs, epochs]``: the one loop of a sweep.

  ``resume_from`` holds the first runs, whole groups of a full sweep: they are not run
  again. ``on_chunk`` gets every finished run after each group (a full sweep) or once at
  the end (halving, whose runs finish together).
  """
  record, total = _Record(len(job.configs), job.epochs), len(job.configs)
  done = 0 if resume_from is None else len(resume_from.configs)
  resumed_diverged = (
    0 if resume_from is None else sum(d is not None for d in resume_from.diverged_at)
  )
  stages = [*rungs, job.epochs]
  alive, start, trained_epochs = list(range(done, total)), 0, 0
  groups: list[tuple[list[int], RunGroup]] = []
  for stage, stop in enumerate(stages):
    size = _group_size(job, len(alive), first=stage == 0)
    chunks = [alive[i : i + size] for i in range(0, len(alive), size)]
    planned = trained_epochs + _planned(job, stages[stage:], start, alive, size, eta)
    previous, groups = groups, []
    for index, (runs, group) in enumerate(_stage_groups(job, chunks, size, previous)):
      so_far = resumed_diverged + int(np.sum(~record.finite.all(axis=1)))
      # A resumed full sweep numbers its groups as the uninterrupted one did.
      place = (
        (done // size + index, math.ceil(total / size)) if stage == 0 else (index, len(chunks))
      )
      report = _reporter(on_epoch, place, so_far, total, trained_epochs, planned)
      metrics, finite = group.train(job.program, splits, range(start, stop), report)
      record.metrics[:, runs, start:stop], record.finite[runs, start:stop] = metrics, finite
      record.final_loss[runs], record.trained[runs] = group.final_loss(job.program, splits), stop
      trained_epochs += stop - start
      if stop < job.epochs:
        groups.append((runs, group))  # the last stage's groups are done: let them go
      elif not rungs and on_chunk is not None:
        on_chunk(_with_resumed(resume_from, record.result(job, range(done, runs[-1] + 1))))
    if stop < job.epochs:
      alive = record.survivors(job, alive, stop, eta)
    start = stop
    if not alive:
      break
  result = _with_resumed(resume_from, record.result(job, range(done, total)))
  if rungs and on_chunk is not None:
    on_chunk(result)
  return result


def _stage_groups(
  job: SweepJob, chunks: list[list[int]], size: int, trained: list[tuple[list[int], RunGroup]]
) -> Iterator[tuple[list[int], RunGroup]]:
  """Each chunk's runs and their group, made as it is needed: fresh at the start, else the
  survivors gathered from the groups ``trained`` at the last rung."""
  if not trained:
    for runs in chunks:
      yield runs, RunGroup.start(job, runs, size)
    return
  row = {run: i for i, run in enumerate(r for runs, _ in trained for r in runs)}
  whole = RunGroup.stacked([group for _, group in trained])
  for runs in chunks:
    yield runs, whole.rows([row[r] for r in runs], size, job.placement)


def _group_size(job: SweepJob, alive: int, first: bool) -> int:
  """Runs per group: the chunk size at the start, after a rung no more than the survivors."""
  devices = len(job.placement.devices)
  if first:
    return job.chunk_size
  return -(-min(job.chunk_size, alive) // devices) * devices


def _planned(job: SweepJob, stages: list[int], start: int, alive: list[int], size: int,
             eta: float) -> int:  # fmt: skip
  """Group-epochs from ``start`` to the end, if no setting stops early but at the rungs: the
  runs ``alive`` now (a resumed sweep's are not whole settings), then the settings that
  survive each rung with all their seeds."""
  every = len({_setting(config) for config in job.configs})
  seeds = max(1, len(job.configs) // max(1, every))
  settings, total = len({_setting(job.configs[r]) for r in alive}), 0
  for k, stop in enumerate(stages):
    runs = len(alive) if k == 0 else settings * seeds
    group = size if k == 0 else _group_size(job, runs, first=False)
    total += math.ceil(runs / group) * (stop - start)
    start, settings = stop, math.ceil(settings / eta)
  return total


def _setting(config: dict) -> tuple:
  return tuple((k, v) for k, v in config.items() if k != "seed")


def _reporter(on_epoch, chunk: tuple[int, int], diverged_before: int, runs: int, done: int,
              total: int):  # fmt: skip
  """The ``report(epoch, live_losses, diverged)`` of one group, as :class:`EpochProgress`."""
  epochs_done = [done]

  def report(epoch: int, live_losses: np.ndarray, diverged: int) -> None:
    epochs_done[0] += 1
    if on_epoch is not None:
      live = float(np.mean(live_losses)) if len(live_losses) else math.nan
      on_epoch(EpochProgress(*chunk, epoch, live, diverged_before + diverged, runs,
                             epochs_done[0], total))  # fmt: skip

  return report


def survivors(
  configs: Sequence[dict],
  alive: Sequence[int],
  scores: np.ndarray,
  train_losses: np.ndarray,
  diverged: np.ndarray,
  eta: float,
) -> list[int]:
  """The runs of the best ``ceil(n / eta)`` settings among ``alive``, by :func:`rank_key`.

  ``scores`` (higher better), ``train_losses`` and ``diverged`` are every run's at the rung;
  a setting any of whose runs diverged (or whose score is NaN) stops whatever its rank.
  """
  settings: dict[tuple, list[int]] = {}
  for run in alive:
    settings.setdefault(_setting(configs[run]), []).append(run)
  keep = math.ceil(len(settings) / eta)
  key = lambda runs: rank_key(scores[runs], train_losses[runs], bool(np.any(diverged[runs])))
  ranked = sorted(settings.values(), key=key)  # stable: equal keys keep the grid's order
  healthy = [runs for runs in ranked[:keep] if not key(runs)[1]]
  return sorted(run for runs in healthy for run in runs)


def _with_resumed(resume_from: Optional[SweepResult], result: SweepResult) -> SweepResult:
  if resume_from is None:
    return result
  joined = SweepResult.concatenate([resume_from, result])
  return dataclasses.replace(
    joined, selection=result.selection, devices=result.devices, complete=result.complete
  )

"""Successive halving inside the vmapped program: rungs, survivors, the rest stopped.

At each rung the settings (the seeds of a grid point together) still training are ranked
by the rule of the final table, :func:`~indian_optax.app.results.rank_key`: the mean over
their seeds of the sweep's selection metric at that epoch (the epoch's mean training loss
stands in for the final one under ``select="train_loss"``), ties to the lower mean training
loss. The best ``ceil(n / eta)`` continue, and a setting any of whose runs diverged (or
whose score is NaN) stops whatever its rank. The survivors' params and optimizer states are
gathered into a smaller group: one compilation per rung shape, spread over the devices as
before. A stopped run keeps its history up to its last epoch (``epochs_trained``); its later
epochs are absent (NaN).
"""

import math
from collections.abc import Callable, Sequence
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from indian_optax.app._program import Chunk, EpochProgress, RunGroup, SweepJob, chunk_result
from indian_optax.app.results import HISTORIES, SweepResult, higher_is_better, rank_key


def rung_epochs(epochs: int, eta: float, rungs: Optional[Sequence[int]] = None) -> list[int]:
  """The epochs after which settings are cut: ``rungs``, or ``epochs / eta**k`` (k = 1, 2 ...).

  The geometric default keeps every rung at least one epoch and before the last epoch.
  """
  if not eta > 1:
    raise ValueError(f"sweep: halving must be > 1, got {eta}")
  if rungs is None:
    rungs = [round(epochs / eta**k) for k in range(1, 64) if epochs / eta**k >= 1]
  chosen = sorted({int(r) for r in rungs})
  if any(not 1 <= r < epochs for r in chosen):
    raise ValueError(f"sweep: rungs must be epochs in [1, {epochs}), got {list(rungs)}")
  return chosen


def _survivors(
  configs: list[dict],
  alive: list[int],
  scores: np.ndarray,
  train_losses: np.ndarray,
  diverged: np.ndarray,
  eta: float,
) -> list[int]:
  """The runs of the best ceil(n / eta) settings among ``alive`` by :func:`rank_key`.

  ``scores`` (higher better) and ``train_losses`` are every run's at the rung; a setting
  any of whose runs diverged (or whose score is NaN) stops whatever its rank.
  """
  settings: dict[tuple, list[int]] = {}
  for run in alive:
    setting = tuple((k, v) for k, v in configs[run].items() if k != "seed")
    settings.setdefault(setting, []).append(run)
  keep = math.ceil(len(settings) / eta)
  key = lambda runs: rank_key(scores[runs], train_losses[runs], bool(diverged[runs].any()))
  ranked = sorted(settings.values(), key=key)  # stable: equal keys keep the grid's order
  healthy = [runs for runs in ranked[:keep] if not key(runs)[1]]
  return sorted(run for runs in healthy for run in runs)


class Halving:
  """Runs a sweep's configurations through the rungs, keeping the best at each."""

  def __init__(self, job: SweepJob):
    self.job = job
    runs, epochs = len(job.configs), job.epochs
    self.metrics = np.full((len(HISTORIES), runs, epochs), np.nan)
    self.finite = np.ones((runs, epochs), dtype=bool)
    self.final_loss = np.full(runs, np.nan)
    self.trained = np.zeros(runs, dtype=int)

  def run(
    self, data, rungs: list[int], eta: float, on_epoch: Optional[Callable[[EpochProgress], None]]
  ) -> SweepResult:
    job = self.job
    alive, groups, start = list(range(len(job.configs))), None, 0
    for stage, stop in enumerate([*rungs, job.epochs]):
      groups = self._groups(alive, groups)
      for members, group in groups:
        diverged = int(np.sum(~self.finite.all(axis=1)))
        report = self._reporter(on_epoch, stage, len(rungs) + 1, diverged, len(job.configs))
        metrics, finite = group.train(job.program, data, range(start, stop), report)
        self.metrics[:, members, start:stop], self.finite[members, start:stop] = metrics, finite
        self.final_loss[members] = group.final_loss(job.program, data)
        self.trained[members] = stop
      if stop < job.epochs:
        losses = self.metrics[HISTORIES.index("train_loss"), :, stop - 1]
        alive = _survivors(job.configs, alive, self._scores(stop), losses, ~self.finite, eta)
      start = stop
      if not alive:
        break
    record = Chunk(job.configs, self.metrics, self.finite, self.final_loss)
    return chunk_result(record, job.select, len(job.placement.devices), self.trained)

  def _scores(self, epoch: int) -> np.ndarray:
    """The selection metric of every run after ``epoch`` epochs, higher better."""
    history = self.metrics[HISTORIES.index(self.job.select), :, epoch - 1]
    return history if higher_is_better(self.job.select) else -history

  def _groups(self, alive: list[int], previous) -> list[tuple[list[int], RunGroup]]:
    """The alive runs in groups: fresh at the start, gathered from the last rung's after."""
    job = self.job
    devices = len(job.placement.devices)
    size = -(-min(job.chunk_size, len(alive)) // devices) * devices
    chunks = [alive[i : i + size] for i in range(0, len(alive), size)]
    if previous is None:
      members = [[job.configs[r] for r in chunk] for chunk in chunks]
      return [
        (chunk, RunGroup.start(job.program, job.placement, job.names, m, size))
        for chunk, m in zip(chunks, members, strict=True)
      ]
    runs = [run for group_runs, _ in previous for run in group_runs]
    whole = _stacked([group for _, group in previous])
    row = {run: i for i, run in enumerate(runs)}
    return [(chunk, whole.rows([row[r] for r in chunk], size, job.placement)) for chunk in chunks]

  @staticmethod
  def _reporter(on_epoch, stage: int, stages: int, before: int, runs: int):
    def report(epoch, live_losses, diverged):
      if on_epoch is not None:
        live = float(np.mean(live_losses)) if len(live_losses) else math.nan
        on_epoch(EpochProgress(stage, stages, epoch, live, before + diverged, runs))

    return report


def _stacked(groups: list[RunGroup]) -> RunGroup:
  """The real (unpadded) rows of several groups, in order, as one group."""
  if len(groups) == 1:
    return groups[0]
  stack = lambda *parts: jnp.concatenate(parts)
  trim = lambda group: jax.tree.map(lambda x: x[: group.kept], (group.hyper, group.carry))
  hyper, carry = jax.tree.map(stack, *[trim(group) for group in groups])
  return RunGroup(hyper, carry, sum(group.kept for group in groups))


def planned_epochs(settings: int, seeds: int, epochs: int, rungs: list[int], eta: float,
                   chunk_size: Optional[int]) -> int:  # fmt: skip
  """The epochs a progress bar counts (each chunk's), if nothing diverges."""
  total, start, alive = 0, 0, settings
  for stop in [*rungs, epochs]:
    runs = alive * seeds
    total += math.ceil(runs / (chunk_size or runs)) * (stop - start)
    start, alive = stop, math.ceil(alive / eta)
  return total

"""Tuning beyond grids: Optuna proposes a batch of settings, one compiled program trains it.

:func:`tune` runs an Optuna study by ask-and-tell, a batch at a time: it asks for ``batch``
trials, trains all of them (times the seeds) through the sweep engine as vmapped programs
(:func:`~indian_optax.app.sweeping.train_configs`, so a setting gives the same per-seed
numbers as in :func:`~indian_optax.app.sweep` at the same chunk width), reports each trial's
per-epoch validation values (``trial.report``: the curves a dashboard shows), and tells each
its score: the mean over seeds of the final selection metric, as a sweep ranks. A trial that
in-program halving stopped early is told ``PRUNED``; one whose runs diverged is told the worst
score (0 accuracy, infinite loss), so the sampler learns where not to go.

Every trial's per-seed runs are kept in the study itself (the trial's user attribute
:data:`RUNS`, in ``results.json``'s run format): the study is the one record of a tuning,
shared by every process that works on it, and :func:`finished` rebuilds the
:class:`~indian_optax.app.SweepResult` of its finished trials from it.

The study holds ``trials`` finished trials at the end, however many processes share it: each
trial asked counts the live trials numbered up to its own (numbers are the storage's, in
order), and one beyond the budget is failed at once. An interrupted batch's trials are told ``FAIL``
(never left ``RUNNING``); running the same tuning again completes the study.

Example:
  >>> import jax, numpy as np, optuna, indian_optax
  >>> from indian_optax import app
  >>> from indian_optax.app import Range
  >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
  >>> rng = np.random.default_rng(0)
  >>> x = rng.normal(size=(256, 4)).astype(np.float32)
  >>> y = (x[:, 0] > 0).astype(np.int32)
  >>> result = app.tune(
  ...     indian_optax.indian,
  ...     {"learning_rate": Range(0.01, 1.0), "alpha": Range(0.1, 2.0), "beta": 0.1},
  ...     init_params=lambda key: {"w": 0.1 * jax.random.normal(key, (4, 2))},
  ...     apply_fn=lambda p, x: x @ p["w"], data=(x, y, x, y), trials=4, batch=2,
  ...     epochs=2, batch_size=32)
  >>> len(result.settings())
  4
"""

import math
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any, Literal, Optional, Union

import jax
import numpy as np
import optax
import optuna
from optuna.trial import TrialState

from indian_optax.app import results
from indian_optax.app.engine import EpochProgress, SweepArgumentError
from indian_optax.app.results import SweepResult, higher_is_better
from indian_optax.app.space import Range, Space
from indian_optax.app.sweeping import (
  Data,
  Params,
  check_arguments,
  softmax_cross_entropy,
  train_configs,
)

RUNS = "indian_optax_runs"
"""The user attribute of a trial that holds its per-seed runs (``results.json``'s records)."""
PROCESS = "indian_optax_process"
"""The user attribute of a trial that names the process training it (host, pid)."""
LIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
"""The states of a trial that counts against the budget (a failed one does not)."""
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def direction(select: str) -> Literal["maximize", "minimize"]:
  """The study's direction for a selection metric (``val_accuracy`` is maximised)."""
  return "maximize" if higher_is_better(select) else "minimize"


def check_space(space: Space) -> None:
  """Raises :class:`SweepArgumentError` naming the first bad range (or an empty space)."""
  if not any(isinstance(v, Range) for v in space.values()):
    raise SweepArgumentError("space", "the space has no range to search", "tune")
  for name, value in space.items():
    problem = value.problem() if isinstance(value, Range) else None
    if problem is not None:
      raise SweepArgumentError(name, f"{name}: {problem}", "tune")


def tune(
  optimizer: Callable[..., optax.GradientTransformation],
  space: Space,
  *,
  init_params: Callable[[jax.Array], Params],
  apply_fn: Callable[[Params, jax.Array], jax.Array],
  data: Data,
  trials: int,
  batch: int = 16,
  study: Optional[optuna.Study] = None,
  epochs: int = 10,
  batch_size: int = 64,
  seeds: Sequence[int] = (0,),
  val_fraction: Optional[float] = None,
  validation: Optional[tuple[np.ndarray, np.ndarray]] = None,
  select: str = "val_accuracy",
  split_seed: int = 0,
  chunk_size: Union[int, str, None] = "auto",
  loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = softmax_cross_entropy,
  name: Optional[str] = None,
  on_epoch: Optional[Callable[[EpochProgress], None]] = None,
  on_batch: Optional[Callable[[SweepResult], Any]] = None,
  devices: Optional[Sequence[jax.Device]] = None,
  halving: Optional[float] = None,
  rungs: Optional[Sequence[int]] = None,
) -> SweepResult:
  """Runs ``study`` to ``trials`` finished trials, ``batch`` trials per round.

  The arguments not listed here are :func:`~indian_optax.app.sweep`'s (``halving`` cuts
  within each batch, and the trials it stops are pruned).

  Args:
    space: hyperparameter -> :class:`Range` (searched) or a number (fixed).
    trials, batch: finished trials the study must hold; trials asked per round.
    study: the Optuna study (its storage, sampler and direction, which must match
      ``select``); default a new in-memory one with ``TPESampler(constant_liar=True,
      multivariate=True, seed=split_seed)``.
    on_batch: called with :func:`finished` after each batch.

  Returns:
    The finished trials' runs (:func:`finished`), each config labelled with its ``trial``.
  """
  _check(space, trials, batch, halving, rungs)
  fixed = {k: (v.low if isinstance(v, Range) else v,) for k, v in space.items()}
  val_fraction = check_arguments(fixed, seeds, epochs, batch_size, select, val_fraction, validation)
  if study is None:
    sampler = optuna.samplers.TPESampler(seed=split_seed, constant_liar=True, multivariate=True)
    study = optuna.create_study(direction=direction(select), sampler=sampler)
  if study.direction.name.lower() != direction(select):
    raise ValueError(f"tune: the study is to {study.direction.name.lower()}, select={select!r} "
                     f"is to {direction(select)}")  # fmt: skip
  fail_dead_trials(study)
  programs: dict = {}  # compiled once for every batch of the same width
  named = {"optimizer": name} if name else {}
  while True:
    asked: list[optuna.Trial] = []
    try:  # an interrupt or a failure, even while asking, leaves no trial of the batch RUNNING
      if not ask_batch(study, space, trials, batch, into=asked):
        break
      configs = [named | {"trial": t.number, **values(t, space), "seed": s} for t in asked
                 for s in seeds]  # fmt: skip
      result = train_configs(
        optimizer, list(space), configs, init_params=init_params, apply_fn=apply_fn, data=data,
        epochs=epochs, batch_size=batch_size, val_fraction=val_fraction, validation=validation,
        select=select, split_seed=split_seed, chunk_size=chunk_size, loss_fn=loss_fn,
        on_epoch=on_epoch, devices=devices, halving=halving, rungs=rungs, programs=programs,
      )  # fmt: skip
      tell(study, asked, result)
    except BaseException:
      fail(study, asked)
      raise
    if on_batch is not None:
      on_batch(finished(study, epochs, select))
  return finished(study, epochs, select)


def _check(space: Space, trials: int, batch: int, halving: Any, rungs: Any) -> None:
  """tune's own arguments (the rest are the sweep's, checked by it)."""
  check_space(space)
  for argument, value in (("trials", trials), ("batch", batch)):
    if value < 1:
      raise SweepArgumentError(argument, f"{argument} must be >= 1, got {value}", "tune")
  if halving is None and rungs is not None:
    raise SweepArgumentError("rungs", "rungs need halving", "tune")


def values(trial: Union[optuna.Trial, optuna.trial.FrozenTrial], space: Space) -> dict[str, float]:
  """The trial's hyperparameters in the space's order: its suggestions and the fixed values."""
  return {k: float(trial.params[k]) if isinstance(v, Range) else float(v) for k, v in space.items()}


def ask_batch(
  study: optuna.Study,
  space: Space,
  trials: int,
  batch: int,
  into: Optional[list[optuna.Trial]] = None,
) -> list[optuna.Trial]:
  """Up to ``batch`` new trials, none beyond the study's budget of ``trials`` live ones,
  appended to ``into`` as they are asked (so that an interrupt can fail those already asked)."""
  distributions: dict[str, optuna.distributions.BaseDistribution] = {
    k: v.distribution() for k, v in space.items() if isinstance(v, Range)
  }
  asked = [] if into is None else into
  while len(asked) < batch and _live(study) < trials:
    trial = study.ask(distributions)
    trial.set_user_attr(PROCESS, [socket.gethostname(), os.getpid()])
    # Numbers are the storage's, in order: counting the live trials up to this one decides the
    # same way in every process sharing the study, so two never both take the last place.
    if sum(t.number <= trial.number for t in in_states(study, LIVE)) > trials:
      study.tell(trial, state=TrialState.FAIL)
      break
    asked.append(trial)
  return asked


def in_states(study: optuna.Study, states: Sequence[TrialState]) -> list[optuna.trial.FrozenTrial]:
  """The study's trials in the given states (not copied)."""
  return study.get_trials(deepcopy=False, states=tuple(states))


def _live(study: optuna.Study) -> int:
  return len(in_states(study, LIVE))


def tell(study: optuna.Study, asked: Sequence[optuna.Trial], result: SweepResult) -> None:
  """Records each trial's runs, reports its per-epoch values and tells its score."""
  metric = f"final_{result.selection}"
  worst = 0.0 if higher_is_better(result.selection) else math.inf
  for trial in asked:
    runs = result.where(trial=trial.number)
    trial.set_user_attr(RUNS, results.run_records(runs))
    trained = int(min(runs.epochs_trained))
    history = np.mean(np.asarray(getattr(runs, result.selection))[:, :trained], axis=0)
    for epoch in range(trained):  # a diverged run's NaN leaves its epochs unreported
      if math.isfinite(history[epoch]):
        trial.report(float(history[epoch]), epoch + 1)
    (setting,) = runs.settings()
    if setting.diverged:
      trial.set_user_attr("diverged", setting.diverged)
      study.tell(trial, worst)
    elif trained < result.epochs:
      study.tell(trial, state=TrialState.PRUNED)
    else:
      study.tell(trial, float(setting.mean[metric]))


def fail(study: optuna.Study, trials: Sequence[Union[optuna.Trial, int]]) -> None:
  """Tells each still-running trial of ``trials`` FAIL (what an interrupt leaves)."""
  numbers = {t if isinstance(t, int) else t.number for t in trials}
  for trial in in_states(study, (TrialState.RUNNING,)):
    if trial.number in numbers:
      study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def fail_dead_trials(study: optuna.Study) -> list[int]:
  """Fails the RUNNING trials of processes on this host that no longer exist (killed without a
  chance to fail them); returns their numbers. Trials of other hosts are left alone."""
  host, dead = socket.gethostname(), []
  for trial in in_states(study, (TrialState.RUNNING,)):
    owner = trial.user_attrs.get(PROCESS)
    if isinstance(owner, list) and len(owner) == 2 and owner[0] == host and not _alive(owner[1]):
      dead.append(trial.number)
  fail(study, dead)
  return dead


def _alive(pid: Any) -> bool:
  if os.name == "nt":  # os.kill(pid, 0) would terminate it there: assume it lives
    return True
  if not isinstance(pid, int) or pid <= 0:
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except OSError:  # exists, owned by someone else
    return True
  return True


def finished(study: optuna.Study, epochs: int, select: str) -> SweepResult:
  """The runs of the study's finished trials (by trial number, then seed), from the runs each
  trial keeps; a trial finished without them (by another program) is left out."""
  records = [
    run for trial in sorted(in_states(study, FINISHED), key=lambda t: t.number)
    for run in trial.user_attrs.get(RUNS, [])
  ]  # fmt: skip
  return results.from_runs(records, epochs, select)

"""The vmapped sweep: many training runs of one model as jitted programs of many runs each.

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
* Runs train ``chunk_size`` at a time in one vmapped program (padded when fewer are
  left). A run's numbers depend on its hyperparameters, its seed and that width, not on
  which other runs share its program: a setting gives the same bits alone as inside a
  larger grid at the same width, which ``chunk_size="auto"`` keeps fixed on a CPU.
  (``None``, one program for all, and ``"auto"`` on an accelerator, make the width the
  sweep's size; a compiler may then round a batched product otherwise.)

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
  ['alpha', 'beta', 'diverged', 'final_test_accuracy', 'final_test_loss', 'final_train_loss',
   'final_val_accuracy', 'final_val_loss', 'seeds']
"""

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional, Union

import jax
import numpy as np
import optax

from indian_optax.app import engine
from indian_optax.app.engine import EpochProgress, Placement, Splits, SweepArgumentError, SweepJob
from indian_optax.app.results import SELECTIONS, SweepResult

Params = Any
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy with integer labels, the default loss of :func:`sweep`."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def grid_points(grid: Mapping[str, Sequence[float]], seeds: Sequence[int]) -> list[dict]:
  """The cartesian product of the grid (in its key order) and the seeds, seeds varying fastest."""
  names = list(grid)
  return [
    dict(zip(names, values, strict=True), seed=seed)
    for *values, seed in itertools.product(*(grid[n] for n in names), seeds)
  ]


def held_out_per_class(y: np.ndarray, fraction: float) -> dict[Any, int]:
  """How many samples of each class :func:`validation_split` holds out: the one rule.

  ``round(fraction * class size)`` (halves up), at most all but one of the class.
  """
  labels, sizes = np.unique(np.asarray(y), return_counts=True)
  return {
    label: min(int(np.floor(fraction * size + 0.5)), max(int(size) - 1, 0))
    for label, size in zip(labels.tolist(), sizes.tolist(), strict=True)
  }


def training_split_size(y: np.ndarray, fraction: float, owner: str = "sweep") -> int:
  """How many samples :func:`validation_split` leaves for training.

  Raises:
    SweepArgumentError: when a fraction > 0 holds out no sample at all.
  """
  held_out = sum(held_out_per_class(y, fraction).values())
  if fraction > 0 and held_out == 0:
    message = f"val_fraction {fraction} holds out no sample of the {len(y)} training samples"
    raise SweepArgumentError("val_fraction", message, owner)
  return len(y) - held_out


def check_batch_size(batch_size: int, training_samples: int) -> None:
  """Raises :class:`SweepArgumentError` when not one minibatch fits in the training split."""
  if batch_size > training_samples:
    message = f"batch_size {batch_size} exceeds the {training_samples} training samples"
    raise SweepArgumentError("batch_size", message)


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
  training_split_size(y, fraction, owner="validation_split")
  rng = np.random.default_rng(seed)
  held_out = []
  for label, count in held_out_per_class(y, fraction).items():
    members = np.flatnonzero(y == label)
    held_out.append(rng.permutation(members)[:count])
  val = np.zeros(len(y), dtype=bool)
  val[np.concatenate(held_out).astype(int)] = True
  return x[~val], y[~val], x[val], y[val]


def check_arguments(grid, seeds, epochs, batch_size, select, val_fraction, validation) -> float:
  """Checks the arguments that need no data; returns the validation fraction to hold out.

  Raises:
    SweepArgumentError: naming the first bad argument.
  """
  if val_fraction is None:
    val_fraction = 0.1 if validation is None else 0.0
  if not grid:
    raise SweepArgumentError("grid", "the grid is empty")
  for name, values in grid.items():
    if len(values) == 0:
      raise SweepArgumentError("grid", f"no values for {name!r}")
  for argument, value in (("epochs", epochs), ("batch_size", batch_size)):
    if value < 1:
      raise SweepArgumentError(argument, f"{argument} must be >= 1, got {value}")
  if len(seeds) == 0:
    raise SweepArgumentError("seeds", "seeds is empty: give at least one seed")
  bad = [s for s in seeds if int(s) != s or not 0 <= s < 2**32]
  if bad:
    raise SweepArgumentError("seeds", f"seeds must be integers in [0, 2**32), got {bad[0]!r}")
  if len(set(seeds)) != len(seeds):
    raise SweepArgumentError("seeds", f"seeds must be distinct, got {list(seeds)}")
  if select not in SELECTIONS:
    choices = ", ".join(SELECTIONS)
    raise SweepArgumentError("select", f"select must be one of {choices}, got {select!r}")
  if not 0.0 <= val_fraction < 1.0:
    raise SweepArgumentError("val_fraction", f"val_fraction must be in [0, 1), got {val_fraction}")
  if validation is not None and val_fraction > 0:
    message = "give a validation set or a val_fraction to hold out, not both"
    raise SweepArgumentError("validation", message)
  if SELECTIONS[select][0] == "validation" and val_fraction == 0 and validation is None:
    message = f"select={select!r} needs a validation split (val_fraction > 0)"
    raise SweepArgumentError("val_fraction", message)
  return val_fraction


AUTO_CPU_WORK = 2_000_000
"""On a CPU, the per-configuration work (params x batch size) up to which a model without
convolutions runs :data:`AUTO_CPU_WIDTH` configurations per program. benchmarks/
sweep_throughput.py (2026-12-06, 15 interleaved rounds) measured the vmapped program 1.94x,
1.33x, 1.11x and 1.18x a loop for digits MLPs of 1.5k to 26k params (x 64) and 1.12x for the
MNIST-1D MLP (23k): vmapped wins at every size the command trains; the largest measured, 1.7M,
rounded up, bounds it (nothing larger was measured)."""

AUTO_CPU_WIDTH = 16
"""On a CPU, the configurations of one vmapped program: a fixed width, so that a run's
numbers do not depend on the size of the sweep it is part of."""


def auto_chunk_size(
  init_params: Callable[[jax.Array], Params],
  batch_size: int,
  configs: int,
  devices: Optional[Sequence[jax.Device]] = None,
  apply_fn: Optional[Callable[[Params, jax.Array], jax.Array]] = None,
  sample: Optional[jax.ShapeDtypeStruct] = None,
) -> int:
  """How many configurations share one program on ``devices`` (default: JAX's default ones).

  On accelerators: all of them (batched products fill the device). On a CPU, by measurement
  (:data:`AUTO_CPU_WORK`): a model whose forward pass (``apply_fn`` on a batch of inputs like
  ``sample``, one input's shape and dtype) has a convolution runs one configuration per
  program (a vmapped convolution ran at 0.40x a loop on the MNIST-1D CNN and 0.85x on digits',
  and compiled 13 to 24 times as long); one
  without runs :data:`AUTO_CPU_WIDTH` per program (padded) up to :data:`AUTO_CPU_WORK`, one
  above. The fixed width makes a setting's numbers the same alone or in a larger grid.
  """
  if (devices or jax.devices())[0].platform != "cpu":
    return configs
  shapes = jax.eval_shape(init_params, jax.random.PRNGKey(0))
  params = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))
  if apply_fn is not None and sample is not None:
    inputs = jax.ShapeDtypeStruct((batch_size, *sample.shape), sample.dtype)
    if "conv_general_dilated" in str(jax.make_jaxpr(apply_fn)(shapes, inputs)):
      return 1
  return AUTO_CPU_WIDTH if params * batch_size <= AUTO_CPU_WORK else 1


def _chunking(configs: int, chunk_size: Union[int, str, None], devices: Sequence[jax.Device]):
  """(rows per program, devices used): a multiple of the devices used, never fewer rows
  than ``chunk_size`` (a sweep with fewer configurations is padded: the width, not the
  sweep's size, decides how a program rounds)."""
  if chunk_size is not None and not isinstance(chunk_size, int):
    raise ValueError(f"sweep: chunk_size must be an integer, None or 'auto', got {chunk_size!r}")
  chunk_size = configs if chunk_size is None else max(1, chunk_size)
  devices = list(devices)[: max(1, min(len(devices), chunk_size))]
  return -(-chunk_size // len(devices)) * len(devices), devices


def _check_resumable(resume_from: SweepResult, configs: list[dict], chunk_size: int) -> None:
  """``resume_from`` must hold whole leading chunks of this sweep."""
  done = len(resume_from.configs)
  if resume_from.configs != configs[:done] or (done % chunk_size and done != len(configs)):
    raise SweepArgumentError(
      "resume_from",
      "resume_from does not hold whole chunks of this sweep (different grid, seeds, name or "
      f"chunk size: {chunk_size} configurations per program here)",
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
  val_fraction: Optional[float] = None,
  validation: Optional[tuple[np.ndarray, np.ndarray]] = None,
  select: str = "val_accuracy",
  split_seed: int = 0,
  chunk_size: Union[int, str, None] = "auto",
  loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = softmax_cross_entropy,
  name: Optional[str] = None,
  on_epoch: Optional[Callable[[EpochProgress], None]] = None,
  on_chunk: Optional[Callable[[SweepResult], None]] = None,
  resume_from: Optional[SweepResult] = None,
  devices: Optional[Sequence[jax.Device]] = None,
  halving: Optional[float] = None,
  rungs: Optional[Sequence[int]] = None,
) -> SweepResult:
  """Trains one model per grid point and seed, all as one vmapped, jitted program.

  Args:
    optimizer: ``(**hyperparameters) -> GradientTransformation``, called with traced scalars
      named as in ``grid``; each run follows the module's contract.
    grid: hyperparameter name -> values; the sweep runs their product with ``seeds``.
    init_params, apply_fn: ``key -> params`` and ``(params, inputs) -> logits``.
    data: ``(x_train, y_train, x_test, y_test)`` with integer labels.
    epochs, batch_size, seeds: passes over the training set, minibatch size, distinct seeds.
    val_fraction, split_seed: the share of the training data held out for validation, in
      ``[0, 1)`` (default 0.1; 0 with ``validation``), and the split's seed.
    validation, select: a validation set ``(x, y)`` of its own instead (held-out files, say);
      ``"val_accuracy"`` (default), ``"val_loss"`` or ``"train_loss"`` (the paper's) chooses.
    chunk_size: configurations per program (padded up to it): a number, None (all of them),
      "auto" (default; per platform, see :func:`auto_chunk_size`).
    loss_fn, name: ``(logits, labels) -> scalar`` loss; ``optimizer`` in every config.
    on_epoch, on_chunk: called with an :class:`EpochProgress` after each epoch, and with
      the runs finished so far after each chunk (with halving: at the end).
    resume_from: a partial result of this same sweep: its chunks are not run again.
    devices, halving, rungs: the devices the runs are spread over (default: all); keep the
      best ``1/halving`` of the settings at each of the ``rungs`` (epochs).

  Returns: a :class:`~indian_optax.app.SweepResult`, runs in :func:`grid_points` order.
  """
  val_fraction = check_arguments(grid, seeds, epochs, batch_size, select, val_fraction, validation)
  configs = [{"optimizer": name, **c} if name else c for c in grid_points(grid, seeds)]
  if halving is not None and resume_from is not None:
    raise ValueError("sweep: resume_from is not supported with halving")
  if halving is None and rungs is not None:
    raise ValueError("sweep: rungs need halving")
  return train_configs(
    optimizer, list(grid), configs, init_params=init_params, apply_fn=apply_fn, data=data,
    epochs=epochs, batch_size=batch_size, val_fraction=val_fraction, validation=validation,
    select=select, split_seed=split_seed, chunk_size=chunk_size, loss_fn=loss_fn,
    on_epoch=on_epoch, on_chunk=on_chunk, resume_from=resume_from, devices=devices,
    halving=halving, rungs=rungs,
  )  # fmt: skip


def train_configs(
  optimizer: Callable[..., optax.GradientTransformation],
  names: Sequence[str],
  configs: list[dict],
  *,
  init_params: Callable[[jax.Array], Params],
  apply_fn: Callable[[Params, jax.Array], jax.Array],
  data: Data,
  epochs: int,
  batch_size: int,
  val_fraction: float,
  validation: Optional[tuple[np.ndarray, np.ndarray]] = None,
  select: str = "val_accuracy",
  split_seed: int = 0,
  chunk_size: Union[int, str, None] = "auto",
  loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = softmax_cross_entropy,
  on_epoch: Optional[Callable[[EpochProgress], None]] = None,
  on_chunk: Optional[Callable[[SweepResult], None]] = None,
  resume_from: Optional[SweepResult] = None,
  devices: Optional[Sequence[jax.Device]] = None,
  halving: Optional[float] = None,
  rungs: Optional[Sequence[int]] = None,
  programs: Optional[dict] = None,
) -> SweepResult:
  """Trains the given ``configs`` (each the hyperparameters ``names``, a ``seed`` and any
  labels) by :func:`sweep`'s contract: what :func:`sweep` runs for its grid, and
  :func:`~indian_optax.app.tune` for each batch of trials. Arguments as :func:`sweep`'s,
  checked by it (``val_fraction`` resolved). ``programs``: compiled programs kept across calls
  of the same model and optimizer (keyed by width, devices and batches), as ``tune``'s batches
  are."""
  splits = _splits(data, val_fraction, split_seed, validation)
  check_batch_size(batch_size, len(splits.y_train))
  if chunk_size == "auto":  # decided for the platform of the devices it will run on
    sample = jax.ShapeDtypeStruct(np.shape(splits.x_train)[1:], np.asarray(splits.x_train).dtype)
    chunk_size = auto_chunk_size(init_params, batch_size, len(configs), devices, apply_fn, sample)
  size, devices = _chunking(len(configs), chunk_size, devices or jax.devices())
  placement = Placement.on(devices)
  batches = len(splits.y_train) // batch_size
  programs = {} if programs is None else programs
  key = (size, tuple(devices), batches)
  if key not in programs:
    programs[key] = engine.compile_sweep(
      optimizer, init_params, apply_fn, loss_fn, batch_size, batches, placement
    )
  program = programs[key]
  job = SweepJob(program, placement, list(names), configs, size, epochs, select)
  placed = Splits(*(placement.replicated(a) for a in splits))
  schedule: dict[str, Any] = {}
  if halving is not None:
    schedule = dict(rungs=engine.rung_epochs(epochs, halving, rungs), eta=halving)
  resumed = resume_from if resume_from is not None and resume_from.configs else None
  if resumed is not None:
    _check_resumable(resumed, configs, size)
  return engine.run(job, placed, **schedule, resume_from=resumed, on_epoch=on_epoch,
                    on_chunk=on_chunk)  # fmt: skip


def _splits(data: Data, val_fraction: float, split_seed: int, validation) -> Splits:
  """The training, validation and test arrays (the validation split held out first)."""
  x_train, y_train, x_test, y_test = (np.asarray(a) for a in data)
  if validation is None:
    x_train, y_train, x_val, y_val = validation_split(
      x_train, y_train, val_fraction, seed=split_seed
    )
  else:
    x_val, y_val = (np.asarray(a) for a in validation)
    if len(x_val) != len(y_val):
      raise ValueError(f"sweep: validation has {len(x_val)} inputs but {len(y_val)} labels")
  return Splits(x_train, y_train, x_val, y_val, x_test, y_test)

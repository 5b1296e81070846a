"""Running a :class:`~indian_optax.app.plan.Plan`: the folder, the data, the sweeps, the saves.

Results already in ``--out`` are never overwritten without ``--force``; results are saved
after every chunk of runs, so an interrupted command can be ``--resume``d; a mistake found
in the data leaves no folder behind.
"""

import contextlib
import dataclasses
import datetime
import os
import pathlib
import signal
from collections.abc import Iterator
from typing import Any, Optional

import jax

from indian_optax.app import data as datasets
from indian_optax.app import models, report, results_files, run_folder
from indian_optax.app.plan import Plan, UsageError
from indian_optax.app.progress import ProgressBar
from indian_optax.app.results import HalvingRecord, Metadata, SweepResult
from indian_optax.app.sweep import SweepArgumentError, check_batch_size, sweep, training_split_size

CACHE_ENV = "INDIAN_OPTAX_COMPILE_CACHE"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
  """Ctrl-C or SIGTERM: what was saved is in ``folder``."""

  def __init__(self, folder: pathlib.Path):
    super().__init__(str(folder))
    self.folder = folder


def run(plan: Plan) -> int:
  """sweep, compare or train: the plan is checked; then the folder, then the training."""
  folder, created = _prepared_folder(plan)
  _use_compile_cache(plan)
  try:
    with run_folder.locked(folder):
      document = results_files.read_document(folder / results_files.RESULTS_JSON)
      previous = None
      if plan.resume:
        previous = _resumed(plan, folder, document)
        plan = plan.resumed(previous.metadata.options if previous.metadata else {}, folder)
        if previous.complete:
          print(report.summary(previous, [], note="already complete: nothing to resume"))
          return 0
      else:
        _clear_previous(plan, folder, document)
      return _train_and_save(plan, folder, previous)
  except run_folder.FolderError as error:
    raise UsageError(f"--out: {error}") from None
  except UsageError:
    if created:  # a mistake found in the data: leave no empty folder behind
      run_folder.discard(folder)
    raise


def _use_compile_cache(plan: Plan) -> None:
  """Turns on JAX's persistent compilation cache for this command (not for library users).

  ``--no-compile-cache`` or ``$INDIAN_OPTAX_COMPILE_CACHE=off`` turns it off; a folder
  named by the option must be usable, the default one is skipped when it is not.
  """
  setting = os.environ.get(CACHE_ENV, "")
  if plan.no_compile_cache or setting.lower() == "off":
    return
  named = plan.compile_cache or (pathlib.Path(setting) if setting else None)
  default = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "indian-optax" / "jax"
  folder = (named or default).expanduser()
  try:
    folder.mkdir(parents=True, exist_ok=True)
  except OSError as error:
    if named:
      raise UsageError(f"--compile-cache: cannot use {str(folder)!r}: {error.strerror}") from None
    return
  jax.config.update("jax_compilation_cache_dir", str(folder))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _prepared_folder(plan: Plan) -> tuple[pathlib.Path, bool]:
  """Resolves, creates and write-tests --out (default: a new folder under runs/)."""
  out = plan.out
  if out is None:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path("runs") / f"{plan.command}-{stamp}"
    candidates = (base.with_name(base.name + (f"-{i}" if i else "")) for i in range(1000))
    out = next(p for p in candidates if not p.exists())
  try:
    return run_folder.prepare(out)
  except run_folder.FolderError as error:
    raise UsageError(f"--out: {error}") from None


def _clear_previous(plan: Plan, folder: pathlib.Path, document: Optional[dict]) -> None:
  """Refuses a folder holding a result set, or removes that set with --force."""
  try:
    previous = _loaded(document)
  except results_files.FormatVersionError:
    previous = None
  names = list(report.figures(previous)) if previous is not None else []
  existing = run_folder.result_files(folder, document, names + ["curves.png"])
  if existing and not plan.force:
    raise UsageError(
      f"--out: {str(folder)!r} already holds results ({', '.join(p.name for p in existing)}); "
      "choose another folder, pass --force to replace them or --resume to continue them"
    )
  run_folder.remove(existing)


def _loaded(document: Optional[dict]) -> Optional[SweepResult]:
  """The result a document holds, None for anything else (a version error propagates)."""
  try:
    return None if document is None else results_files.from_json(document)
  except results_files.FormatVersionError:
    raise
  except (KeyError, TypeError, ValueError, AttributeError):
    return None


def _resumed(plan: Plan, folder: pathlib.Path, document: Optional[dict]) -> SweepResult:
  """The partial result to resume from: this command's, not a halving sweep's."""
  try:
    previous = _loaded(document)
  except results_files.FormatVersionError as error:
    raise UsageError(f"--resume: {str(folder)!r}: {error}") from None
  if previous is None or previous.metadata is None:
    raise UsageError(f"--resume: {str(folder)!r} holds no results to resume")
  if previous.metadata.command != plan.command:
    raise UsageError(
      f"--resume: {str(folder)!r} holds the results of {previous.metadata.command!r}, "
      f"not {plan.command!r}"
    )
  if previous.metadata.halving is not None or previous.metadata.options.get("halving"):
    raise UsageError("--resume: a --halving sweep cannot be resumed (it saves at the end)")
  return previous


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
  """Holds Ctrl-C and SIGTERM back while a result set is written (the CSV and JSON agree)."""
  received: list[int] = []
  handlers = {s: signal.signal(s, lambda signum, _: received.append(signum)) for s in _SIGNALS}
  try:
    yield
  finally:
    for signum, handler in handlers.items():
      signal.signal(signum, handler)
  if received:
    raise KeyboardInterrupt


def _train_and_save(plan: Plan, folder: pathlib.Path, previous: Optional[SweepResult]) -> int:
  """Loads the data, runs the plan's sweeps saving after every chunk, then plots and summary."""
  dataset, model = _dataset_and_model(plan)
  halving = None if plan.halving is None else HalvingRecord(plan.halving.eta, plan.halving.rungs)
  metadata = Metadata(
    command=plan.command, dataset=dataset.name, model=model.name, arguments=plan.arguments,
    options=plan.record(), halving=halving,
    files=(results_files.RESULTS_JSON, results_files.RESULTS_CSV),
  )  # fmt: skip
  finished: list[SweepResult] = []

  def save(partial: SweepResult) -> None:
    so_far = SweepResult.concatenate([*finished, partial])
    with _interrupts_deferred():
      dataclasses.replace(so_far, complete=False, metadata=metadata).save(folder)

  try:
    for optimizer in plan.sweeps:
      before = previous.where(optimizer=optimizer.name) if previous is not None else None
      with ProgressBar(optimizer.name, len(plan.sweeps)) as on_epoch:
        finished.append(
          sweep(
            optimizer.factory(), optimizer.grid, init_params=model.init, apply_fn=model.apply,
            data=(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
            epochs=plan.epochs, batch_size=plan.batch_size, seeds=plan.seeds,
            val_fraction=plan.options["val_fraction"], select=plan.options["select"],
            split_seed=plan.options["seed"], chunk_size=plan.options["chunk"], name=optimizer.name,
            on_epoch=on_epoch, on_chunk=save,
            resume_from=before if before is not None and before.configs else None,
            halving=None if plan.halving is None else plan.halving.eta,
            rungs=None if plan.halving is None else plan.halving.rungs,
          )
        )  # fmt: skip
  except KeyboardInterrupt:
    raise Interrupted(folder) from None
  result = dataclasses.replace(SweepResult.concatenate(finished), metadata=metadata)
  drawn = report.draw(result, folder)
  metadata = dataclasses.replace(metadata, files=metadata.files + tuple(p.name for p in drawn))
  result = dataclasses.replace(result, metadata=metadata, complete=True)
  written = result.save(folder)
  print(report.summary(result, [*written, *drawn]))
  return 0


def _dataset_and_model(plan: Plan) -> tuple[datasets.Dataset, Any]:
  options = plan.options
  try:
    dataset = datasets.load(options["dataset"], seed=options["seed"])
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  try:
    model = models.make_model(
      options["model"] or dataset.default_model, dataset.sample_shape, dataset.num_classes
    )
  except ValueError as error:
    raise UsageError(f"--model: {error}") from None
  try:  # the training split the sweep will make, sized by the engine's own rule
    check_batch_size(plan.batch_size, training_split_size(dataset.y_train, options["val_fraction"]))
  except SweepArgumentError as error:
    option = "--" + error.argument.replace("_", "-")
    raise UsageError(f"{option}: {error.message.removeprefix(error.argument + ' ')}") from None
  return dataset, model

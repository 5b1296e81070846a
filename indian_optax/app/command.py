"""Running a :class:`~indian_optax.app.plan.Plan`: the folder, the data, the sweeps, the saves.

Results already in ``--out`` are never overwritten without ``--force``; results are saved
after every chunk of runs, so an interrupted command can be ``--resume``d; a mistake found
in the data leaves no folder behind.
"""

import dataclasses
import datetime
import os
import pathlib
import time
import warnings
from typing import Any, Optional

import jax

from indian_optax.app import data as datasets
from indian_optax.app import interrupts, models, report, results, results_files, run_folder
from indian_optax.app.plan import Plan, UsageError, shown
from indian_optax.app.progress import ProgressBar
from indian_optax.app.results import HalvingRecord, Metadata, SweepResult
from indian_optax.app.space import Range
from indian_optax.app.sweeping import (
  SweepArgumentError,
  check_batch_size,
  sweep,
  training_split_size,
)

CACHE_ENV = "INDIAN_OPTAX_COMPILE_CACHE"


class Interrupted(Exception):
  """Ctrl-C or SIGTERM: ``message`` says what is in ``folder`` and how to go on, if at all."""

  def __init__(self, folder: pathlib.Path, message: str):
    super().__init__(message)
    self.folder, self.message = folder, message

  @classmethod
  def while_training(cls, folder: pathlib.Path, saved: bool, halving: bool) -> "Interrupted":
    if halving:
      return cls(folder, "nothing was saved (a --halving sweep saves when it ends and cannot "
                         "be resumed: run the same command again to start it over)")  # fmt: skip
    if saved:
      return cls(folder, f"the completed chunks are saved in {folder} (continue with "
                         f"--resume --out {folder})")  # fmt: skip
    return cls(folder, "nothing was saved")

  @classmethod
  def while_drawing(cls, folder: pathlib.Path) -> "Interrupted":
    return cls(folder, f"the results are complete in {folder}, but not every figure was "
                       f"drawn (draw them with: indian-optax report {folder})")  # fmt: skip


def run(plan: Plan) -> int:
  """sweep, compare or train: the plan is checked; then the folder, the data, the training.

  Nothing in ``--out`` is removed (``--force``) before the data and the model are known to
  be right, and a folder this command created is removed again when it ends with nothing
  saved (a mistake, or an interrupt before the first chunk).
  """
  _use_compile_cache(plan)
  folder, created = _prepared_folder(plan)
  try:
    with run_folder.locked(folder):
      document = results_files.read_document(folder / results_files.RESULTS_JSON)
      previous, replaced = None, []
      if plan.resume or (_holds_a_tuning(document) and plan.command == "tune" and not plan.force):
        previous, recorded = _resumed(plan, folder, document)
        plan = plan.resumed(recorded, folder)
        if previous.complete and plan.command != "tune":  # a study may be given more trials
          print(report.summary(previous, [], note="already complete: nothing to resume"))
          return 0
      else:
        replaced = _previous_result_set(plan, folder, document)
      dataset, model = _dataset_and_model(plan)
      # A study elsewhere is opened and checked before --force removes anything here.
      study = _open_study(plan, model.name, folder) if plan.options.storage else None
      interrupts.check()  # before --force removes anything
      kept = [] if replaced else _listed_figures(document, folder)
      run_folder.remove(replaced)
      if plan.command == "tune":
        return _tune_and_save(plan, folder, dataset, model, study, kept)
      return _train_and_save(plan, folder, previous, dataset, model)
  except run_folder.FolderError as error:
    raise UsageError(f"--out: {error}") from None
  finally:
    if created is not None and not (folder / results_files.RESULTS_JSON).exists():
      run_folder.discard(folder, created)  # only what is empty but for the lock


def _use_compile_cache(plan: Plan) -> None:
  """Turns on JAX's persistent compilation cache for this command (not for library users).

  ``--no-compile-cache`` or ``$INDIAN_OPTAX_COMPILE_CACHE=off`` turns it off; a folder
  named by the option or the variable must be usable, the default one is skipped when it is not.
  """
  setting = os.environ.get(CACHE_ENV, "")
  if plan.no_compile_cache or (plan.compile_cache is None and setting.lower() == "off"):
    return  # the option given wins over the environment
  named = plan.compile_cache or (pathlib.Path(setting) if setting else None)
  default = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "indian-optax" / "jax"
  folder = (named or default).expanduser()
  try:
    folder.mkdir(parents=True, exist_ok=True)
  except OSError as error:
    if named:
      culprit = "--compile-cache" if plan.compile_cache else f"${CACHE_ENV}"
      raise UsageError(f"{culprit}: cannot use {str(folder)!r}: {error.strerror}") from None
    return
  jax.config.update("jax_compilation_cache_dir", str(folder))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _prepared_folder(plan: Plan) -> tuple[pathlib.Path, Optional[pathlib.Path]]:
  """Resolves, creates and write-tests --out (default: a new folder under runs/); returns it
  and the outermost folder this call created (None if it existed)."""
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


def _previous_result_set(plan: Plan, folder: pathlib.Path, document: Optional[dict]) -> list:
  """The files of the result set already in the folder (to replace with --force); refuses
  the folder without --force."""
  try:
    previous = _loaded(document)
  except results.FormatVersionError:
    previous = None
  existing = run_folder.result_files(folder, document)
  if existing and not plan.force:
    # --resume only where it would be taken: this command's own unfinished full sweep.
    meta = previous.metadata if previous is not None else None
    resumable = (
      previous is not None and meta is not None and not previous.complete
      and meta.command == plan.command and meta.halving is None
    )  # fmt: skip
    raise UsageError(
      f"--out: {str(folder)!r} already holds results ({', '.join(p.name for p in existing)}); "
      "choose another folder or pass --force to replace them"
      + (" or --resume to continue them" if resumable else "")
    )
  return existing


def _holds_a_tuning(document: Optional[dict]) -> bool:
  """Whether ``results.json`` is a tuning's: ``tune`` with the same --out goes on with it."""
  return isinstance(document, dict) and document.get("command") == "tune"


def _loaded(document: Optional[dict]) -> Optional[SweepResult]:
  """The result a document holds, None for anything else (a version error propagates)."""
  if document is None:
    return None
  try:
    return results.from_json(document)
  except results.FormatVersionError:  # a ValueError, but one the user must hear of
    raise
  except results_files.DAMAGED:
    return None


def _resumed(
  plan: Plan, folder: pathlib.Path, document: Optional[dict]
) -> tuple[SweepResult, Metadata]:
  """The partial result to resume from (this command's, not a halving sweep's), and what the
  interrupted command recorded."""
  try:
    previous = _loaded(document)
  except results.FormatVersionError as error:
    raise UsageError(f"--resume: {str(folder)!r}: {error}") from None
  if previous is None or previous.metadata is None:
    raise UsageError(f"--resume: {str(folder)!r} holds no results to resume")
  if previous.metadata.command != plan.command:
    raise UsageError(
      f"--resume: {str(folder)!r} holds the results of {previous.metadata.command!r}, "
      f"not {plan.command!r}"
    )
  return previous, previous.metadata


def _train_and_save(
  plan: Plan,
  folder: pathlib.Path,
  previous: Optional[SweepResult],
  dataset: datasets.Dataset,
  model: models.FunctionalModel,
) -> int:
  """Runs the plan's sweeps saving after every chunk, then plots and summary."""
  halving = None if plan.halving is None else HalvingRecord(plan.halving.eta, plan.halving.rungs)
  metadata = Metadata(
    command=plan.command, dataset=dataset.name, model=model.name, arguments=plan.arguments,
    options=plan.record() | {"model": model.name}, halving=halving,
    files=(results_files.RESULTS_JSON, results_files.RESULTS_CSV),
  )  # fmt: skip
  options = plan.options
  finished: list[SweepResult] = []
  saved, saver = False, results.Saver()  # each save writes the new runs' records only

  def save(partial: SweepResult) -> None:
    nonlocal saved
    so_far = SweepResult.concatenate([*finished, partial])
    with interrupts.deferred():  # the JSON and the CSV of a result set agree
      saver.save(dataclasses.replace(so_far, complete=False, metadata=metadata), folder)
      saved = True

  try:
    for optimizer in plan.sweeps:
      interrupts.check()
      with ProgressBar(optimizer.name, len(plan.sweeps)) as on_epoch:
        finished.append(
          sweep(
            optimizer.factory(), optimizer.grid, init_params=model.init, apply_fn=model.apply,
            data=(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
            epochs=options.epochs, batch_size=options.batch_size, seeds=plan.seeds,
            val_fraction=options.val_fraction, select=options.select, split_seed=options.seed,
            chunk_size=options.chunk, name=optimizer.name,
            on_epoch=on_epoch, on_chunk=save,
            resume_from=None if previous is None else previous.where(optimizer=optimizer.name),
            halving=None if plan.halving is None else plan.halving.eta,
            rungs=None if plan.halving is None else plan.halving.rungs,
          )
        )  # fmt: skip
    result = dataclasses.replace(SweepResult.concatenate(finished), metadata=metadata)
    result = dataclasses.replace(result, complete=True)
    with interrupts.deferred():  # complete before any figure: an interrupt loses only figures
      written = saver.save(result, folder)
  except KeyboardInterrupt:
    restarts = plan.halving is not None and not saved
    raise Interrupted.while_training(folder, saved or previous is not None, restarts) from None
  except SweepArgumentError as error:  # resume_from: this machine chunks the sweep otherwise
    raise UsageError(f"--resume: {error.message}") from None
  try:
    result, drawn = _draw(result, folder, saver)
  except KeyboardInterrupt:
    raise Interrupted.while_drawing(folder) from None
  print(report.summary(result, [*written, *drawn]))
  return 0


def _draw(
  result: SweepResult, folder: pathlib.Path, saver: results.Saver
) -> tuple[SweepResult, list[pathlib.Path]]:
  """Draws the result's figures, each written together with the ``results.json`` that lists
  it: an interrupt leaves no figure unlisted and lists none that is missing."""
  drawn = []
  for name, drawing in report.figures(result).items():
    image = report.png(drawing)  # the slow part, interruptible: nothing written yet
    meta = result.metadata  # None: a result saved by the library, which lists no files
    listed = meta is not None and name not in meta.files
    if meta is not None and listed:
      result = dataclasses.replace(
        result, metadata=dataclasses.replace(meta, files=(*meta.files, name))
      )
    with interrupts.deferred():
      results_files.write_atomically(folder / name, image)
      if listed:
        saver.save(result, folder)
    drawn.append(folder / name)
  return result, drawn


def redraw(folder: pathlib.Path) -> int:
  """``indian-optax report DIR``: redraws the figures of a saved result set (listing them in
  its ``results.json``, as the command that wrote it does) and reprints its summary."""
  try:
    result = SweepResult.load(folder)  # a damaged document: a ValueError saying so
  except ValueError as error:
    raise UsageError(f"report: {error}") from None
  folder = folder if folder.is_dir() else folder.parent
  try:
    with run_folder.locked(folder):
      result, drawn = _draw(result, folder, results.Saver()) if result.configs else (result, [])
      files = [folder / results_files.RESULTS_JSON, folder / results_files.RESULTS_CSV]
      text = report.summary(result, [*files, *drawn])
  except (run_folder.FolderError, OSError) as error:
    raise UsageError(f"report: {error}") from None
  except results_files.DAMAGED as error:  # read, but its values cannot be summarised
    raise UsageError(f"report: {str(folder)!r} holds a damaged results.json ({error!r})") from None
  except KeyboardInterrupt:
    message = f"not every figure was drawn (draw them with: indian-optax report {folder})"
    raise Interrupted(folder, message) from None
  print(text)
  return 0


STUDY_DB = "study.db"
"""The study database a tuning keeps in its folder when no --storage is given."""


def _tune_and_save(
  plan: Plan,
  folder: pathlib.Path,
  dataset: datasets.Dataset,
  model: models.FunctionalModel,
  study: Any,
  kept: list[str],
) -> int:
  """tune: opens (or creates) the study, runs it to --trials finished trials a batch at a
  time, saving the results of every finished trial after each batch, then plots and summary.
  ``kept``: the figures an earlier run on the folder's study drew, listed until redrawn."""
  from indian_optax.app import tuning  # Optuna is imported by the command that uses it

  options, url = plan.options, _storage_url(plan, folder)
  study = study or _open_study(plan, model.name, folder)
  files: tuple[str, ...] = (results_files.RESULTS_JSON, results_files.RESULTS_CSV)
  files += ((STUDY_DB,) if options.storage is None else ()) + tuple(kept)
  metadata = Metadata(
    command="tune", dataset=dataset.name, model=model.name, arguments=plan.arguments,
    options=plan.record() | {"model": model.name}, halving=plan.halving,
    files=tuple(dict.fromkeys(files)),
    ranges={h: r._asdict() for h, r in (plan.space or {}).items() if isinstance(r, Range)},
  )  # fmt: skip

  def save(result: SweepResult) -> list[pathlib.Path]:
    done = len(tuning.in_states(study, tuning.FINISHED)) >= options.trials
    whole = dataclasses.replace(result, complete=done, metadata=metadata)
    with interrupts.deferred():  # a fresh saver: another process's trials may come between
      return results.Saver().save(whole, folder)

  (sweep,) = plan.sweeps
  written = save(tuning.finished(study, options.epochs, options.select))
  try:
    with ProgressBar("tune", 1) as on_epoch:
      result = tuning.tune(
        sweep.factory(), plan.space or {}, init_params=model.init, apply_fn=model.apply,
        data=(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
        trials=options.trials, batch=options.batch, study=study, epochs=options.epochs,
        batch_size=options.batch_size, seeds=plan.seeds, val_fraction=options.val_fraction,
        select=options.select, split_seed=options.seed, chunk_size=options.chunk,
        name=sweep.name, on_epoch=on_epoch, on_batch=save,
        halving=None if plan.halving is None else plan.halving.eta,
        rungs=None if plan.halving is None else plan.halving.rungs,
      )  # fmt: skip
    written = save(result)
  except KeyboardInterrupt:  # the batch's trials are failed by tune; the finished ones stay
    interrupts.taken()
    save(tuning.finished(study, options.epochs, options.select))
    again = "the same command again" + (" without --force" if plan.force else "")
    message = f"{_study_state(study, url, options.trials)}; run {again} to go on"
    raise Interrupted(folder, message) from None
  try:
    result, drawn = _draw(dataclasses.replace(result, metadata=metadata), folder, results.Saver())
  except KeyboardInterrupt:
    raise Interrupted.while_drawing(folder) from None
  note = _study_state(study, url, options.trials)
  print(report.summary(result, [*written, *drawn], note=note))
  return 0


def _study_state(study: Any, url: str, trials: int) -> str:
  from indian_optax.app import tuning

  states = [t.state for t in study.get_trials(deepcopy=False)]
  finished = sum(state in tuning.FINISHED for state in states)
  pruned = sum(state.name == "PRUNED" for state in states)
  failed = sum(state.name == "FAIL" for state in states)
  running = sum(state.name == "RUNNING" for state in states)
  elsewhere = f", {running} running in other processes" if running else ""
  return (f"study {study.study_name!r} in {url}: {finished} of {trials} trials finished "
          f"({pruned} pruned), {failed} failed{elsewhere}")  # fmt: skip


def _storage_url(plan: Plan, folder: pathlib.Path) -> str:
  """--storage, or the SQLite file in the folder."""
  return plan.options.storage or f"sqlite:///{folder / STUDY_DB}"


def _listed_figures(document: Optional[dict], folder: pathlib.Path) -> list[str]:
  """The figures an earlier tuning of this folder listed and drew (kept listed when the study
  goes on, so that an interrupt before they are redrawn leaves none unlisted)."""
  if not _holds_a_tuning(document):
    return []
  listed = (document or {}).get("files", [])
  names = [n for n in listed if isinstance(n, str) and n.endswith(".png") and "/" not in n]
  return [n for n in names if (folder / n).is_file()]


def _open_study(plan: Plan, model: str, folder: pathlib.Path) -> Any:
  """The study ``--study`` in the storage, created if new; one that was made for other
  options, or a storage that cannot be opened, is one line naming the culprit."""
  import optuna

  from indian_optax.app import tuning

  optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar and summary say it
  warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
  options, url = plan.options, _storage_url(plan, folder)
  for attempt in range(5):  # processes creating one database at once race for its schema
    try:
      study = _create_study(url, options.study, tuning.direction(options.select))
      break
    except Exception as error:  # SQLAlchemy, a driver, the file system: each its own kind
      if attempt < 4 and type(error).__name__ in ("IntegrityError", "OperationalError"):
        time.sleep(0.2 * (attempt + 1))
        continue
      reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
      if isinstance(error, ModuleNotFoundError):  # a database driver: psycopg2, pymysql ...
        reason += " (a PostgreSQL server needs pip install 'indian-optax[postgres]')"
      raise UsageError(f"--storage: cannot open {url!r}: {reason}") from None
  identity, recorded = plan.study_identity(model), study.user_attrs.get("indian_optax")
  if recorded is None and study.trials:
    raise UsageError(f"--study: {options.study!r} in {url} holds trials of another program: "
                     "name another --study")  # fmt: skip
  if recorded is None:  # read again: of two processes creating it at once, one identity wins
    study.set_user_attr("indian_optax", identity)
    recorded = study.user_attrs.get("indian_optax")
  if recorded != identity:
    if not isinstance(recorded, dict):
      recorded = {}
    name = next((k for k in identity if recorded.get(k) != identity[k]), "study")
    raise UsageError(
      f"--study: {options.study!r} in {url} was made for --{name.replace('_', '-')} "
      f"{shown(recorded.get(name))}, not {shown(identity[name])}: name another --study "
      "(or --out), or give the options it was made with"
    )
  # A study shared through --storage: processes started together must not draw the same points.
  shared = os.getpid() if options.storage else 0
  study.sampler = _sampler(options.sampler, options.seed + len(study.trials) + shared)
  return study


def _create_study(url: str, name: str, direction: str) -> Any:
  import optuna
  from optuna.storages.journal import JournalFileBackend

  if url.startswith("journal:"):
    storage: Any = optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
  else:  # SQLite serialises writers: wait for a busy database rather than fail
    timeout = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    storage = optuna.storages.RDBStorage(url, engine_kwargs=timeout)
  return optuna.create_study(
    storage=storage,
    study_name=name,
    load_if_exists=True,
    direction=direction,  # type: ignore[arg-type]
  )


def _sampler(name: str, seed: int) -> Any:
  """Optuna's sampler ``name``, seeded (TPE with constant liar: it sees a batch's pending
  trials, and models the hyperparameters jointly)."""
  import optuna

  seed %= 2**32
  if name == "tpe":
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
  if name == "random":
    return optuna.samplers.RandomSampler(seed=seed)
  if name == "gp":
    return optuna.samplers.GPSampler(seed=seed)
  return optuna.samplers.CmaEsSampler(seed=seed)


def _dataset_and_model(plan: Plan) -> tuple[datasets.Dataset, Any]:
  options = plan.options
  try:
    dataset = datasets.load(options.dataset, seed=options.seed)
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  try:
    model = models.make_model(
      options.model or dataset.default_model, dataset.sample_shape, dataset.num_classes
    )
  except ValueError as error:  # the data's shape, where the model is the default one
    raise UsageError(f"{'--model' if options.model else '--dataset'}: {error}") from None
  try:  # the training split the sweep will make, sized by the engine's own rule
    check_batch_size(options.batch_size, training_split_size(dataset.y_train, options.val_fraction))
  except SweepArgumentError as error:
    option = "--" + error.argument.replace("_", "-")
    raise UsageError(f"{option}: {error.message.removeprefix(error.argument + ' ')}") from None
  return dataset, model

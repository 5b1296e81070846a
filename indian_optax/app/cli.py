"""The indian-optax command: train, sweep and compare INDIAN/INNAprop on embedded data, with plots.

Every user mistake ends in one line on stderr and exit status 2, never a traceback;
results already in ``--out`` are never overwritten without ``--force``; results are
saved after every chunk of runs, so an interrupted command can be ``--resume``d.
"""

import argparse
import contextlib
import dataclasses
import datetime
import functools
import math
import os
import pathlib
import re
import signal
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, Optional, Union

import jax
import numpy as np
from tqdm.auto import tqdm

from indian_optax import _checks
from indian_optax.app import data as datasets
from indian_optax.app import models, optimizers, plots, run_folder, summary
from indian_optax.app.halving import planned_epochs, rung_epochs
from indian_optax.app.results import RESULTS_CSV, RESULTS_JSON, SELECTIONS, SweepResult
from indian_optax.app.sweep import (
  EpochProgress,
  SweepArgumentError,
  auto_chunk_size,
  check_arguments,
  check_batch_size,
  sweep,
  training_split_size,
)

PROG = "indian-optax"
_OPTION_OF = {"learning_rate": "--lr", "weight_decay": "--weight-decay"}
"""Hyperparameter -> its command-line option, where the names differ."""
_CACHE_ENV = "INDIAN_OPTAX_COMPILE_CACHE"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


_DEFAULTS: dict[str, Any] = {
  "dataset": "digits", "model": None, "epochs": 15, "batch_size": 64, "seed": 0,
  "val_fraction": 0.1, "select": "val_accuracy", "chunk": "auto",
}  # fmt: skip
_COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {
  "sweep": dict(optimizer="indian", alpha=None, beta=None, lr=None, sigma=None,
                weight_decay=None, seeds=1, halving=None, rungs=None),
  "compare": dict(optimizers=None, lr=None, seeds=3),
  "train": dict(optimizer="indian", alpha=None, beta=None, lr=None),
}  # fmt: skip
"""Every recorded option's default (None: the optimizer's default grid or value)."""
_RUN_OPTIONS = {"out": None, "force": False, "resume": False, "compile_cache": None,
                "no_compile_cache": False}  # fmt: skip
"""Options about this run of the command, not about the work: never recorded."""


_SWEEP, _TRAIN = _COMMAND_DEFAULTS["sweep"], _COMMAND_DEFAULTS["train"]


class UsageError(Exception):
  """A user mistake: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
  def error(self, message: str) -> NoReturn:  # one line, not usage + message
    wanted = re.match(r"argument (--[\w-]+): expected one argument", message)
    if wanted:
      option = wanted.group(1)
      message = f"{option}: expected a value (for a negative one write {option}=-0.1)"
    raise UsageError(message.removeprefix("argument "))


def _option(hyperparameter: str) -> str:
  return _OPTION_OF.get(hyperparameter, "--" + hyperparameter.replace("_", "-"))


def _values(option: str, text: str) -> list[float]:
  """Parses a comma list of numbers for ``option``; their ranges are the library's to check."""
  values = []
  for item in text.split(","):
    try:
      values.append(float(item))
    except ValueError:
      raise UsageError(f"{option}: {item.strip()!r} is not a number") from None
  return values


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
  def parse(text: str) -> int:
    try:
      value = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not low <= value <= high:
      bounds = f">= {low}" if high == _INT_MAX else f"in [{low}, {high}]"
      raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
    return value

  return parse


def _eta(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
  if not (math.isfinite(value) and value > 1):
    raise argparse.ArgumentTypeError(f"must be > 1, got {text}")
  return value


def _chunk(text: str) -> Union[int, str]:
  return "auto" if text == "auto" else _positive_int(text)


def _fraction(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
  if not 0.0 <= value < 1.0:
    raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
  return value


_INT_MAX = 2**31 - 1
_positive_int = _bounded_int(1, _INT_MAX)


def _common_options() -> argparse.ArgumentParser:
  # No argparse defaults: an option is in the parsed arguments only when it was given
  # (what --resume compares); the plan fills in _DEFAULTS.
  common = _Parser(add_help=False, allow_abbrev=False, argument_default=argparse.SUPPRESS)
  add = common.add_argument
  add(
    "--dataset",
    help=f"digits, mnist1d, or the path of an .npz file (default: {_DEFAULTS['dataset']})",
  )
  add("--model", help="mlp or cnn (default: mlp for digits and flat inputs, else cnn)")
  add(
    "--epochs",
    type=_positive_int,
    help=f"passes over the training set (default: {_DEFAULTS['epochs']})",
  )
  add(
    "--batch-size", type=_positive_int, help=f"minibatch size (default: {_DEFAULTS['batch_size']})"
  )
  add(
    "--seed",
    type=_bounded_int(0, 2**32 - 1),
    help=f"first seed: init, data order, splits (default: {_DEFAULTS['seed']})",
  )
  add(
    "--val-fraction",
    type=_fraction,
    help="share of the training set held out for validation "
    f"(default: {_DEFAULTS['val_fraction']})",
  )
  add(
    "--select",
    choices=tuple(SELECTIONS),
    help="what chooses the best setting: final validation accuracy, final validation loss "
    f"or final training loss (default: {_DEFAULTS['select']})",
  )
  add(
    "--chunk",
    type=_chunk,
    help="configurations per compiled program, or auto (on a CPU: one at a time for "
    "compute-bound models, else all); results are saved after each "
    f"(default: {_DEFAULTS['chunk']})",
  )
  add("--out", help="output folder (default: runs/<command>-<time>)")
  add("--force", action="store_true", help="replace the result set already in --out")
  add(
    "--resume",
    action="store_true",
    help="continue the interrupted command whose results are in --out",
  )
  cache_help = f"JAX's persistent compilation cache (default: ${_CACHE_ENV} or "
  add("--compile-cache", metavar="DIR", help=cache_help + "~/.cache/indian-optax/jax)")
  add("--no-compile-cache", action="store_true", help="compile everything anew")
  return common


def _listed(values: Sequence[float]) -> str:
  return ",".join(f"{v:g}" for v in values)


def _add_sweep(commands: Any, common: argparse.ArgumentParser) -> None:
  grids, lr, default = optimizers.SWEEP_GRIDS, optimizers.DEFAULT_LEARNING_RATES, optimizers.default
  per_optimizer = lambda values: ", ".join(f"{name} {value}" for name, value in values.items())
  sweep_ = commands.add_parser(
    "sweep", parents=[common], allow_abbrev=False, argument_default=argparse.SUPPRESS,
    help="alpha x beta (x lr x seed) grid, one vmapped program",
  )  # fmt: skip
  add = sweep_.add_argument
  add("--optimizer", choices=tuple(optimizers.SWEPT), help=f"(default: {_SWEEP['optimizer']})")
  add("--alpha", help=f"comma list (default: {_listed(grids['indian']['alpha'])})")
  beta = {name: _listed(grid["beta"]) for name, grid in grids.items()}
  add("--beta", help=f"comma list (default: {per_optimizer(beta)})")
  add("--lr", help=f"comma list (default: {per_optimizer({n: f'{lr[n]:g}' for n in grids})})")
  add("--sigma", help=f"innaprop only: comma list (default: {default('innaprop', 'sigma'):g})")
  decays = {n: _listed([default(n, "weight_decay") or 0.0]) for n in grids}
  add("--weight-decay", help=f"one value (default: {per_optimizer(decays)})")
  add("--seeds", type=_positive_int, help=f"seeds per grid point (default: {_SWEEP['seeds']})")
  add("--halving", type=_eta, help="successive halving: keep the best 1/ETA of the settings at "
      "each rung (e.g. 3; default: train every setting to the end)")  # fmt: skip
  add("--rungs", help="with --halving: comma list of the epochs to cut after "
      "(default: epochs / ETA^k, k = 1, 2 ...)")  # fmt: skip


def _add_compare(commands: Any, common: argparse.ArgumentParser) -> None:
  compare = commands.add_parser(
    "compare", parents=[common], allow_abbrev=False, argument_default=argparse.SUPPRESS,
    help="INDIAN and INNAprop against the usual Optax optimizers",
  )  # fmt: skip
  add = compare.add_argument
  add("--optimizers", help=f"comma list (default: {','.join(optimizers.FACTORIES)})")
  lrs = _listed(optimizers.COMPARE_LEARNING_RATES)
  add("--lr", help=f"learning-rate grid tuned for each (default: {lrs})")
  add(
    "--seeds",
    type=_positive_int,
    help=f"seeds per setting (default: {_COMMAND_DEFAULTS['compare']['seeds']})",
  )


def _add_train(commands: Any, common: argparse.ArgumentParser) -> None:
  train = commands.add_parser(
    "train", parents=[common], allow_abbrev=False, argument_default=argparse.SUPPRESS,
    help="one run",
  )  # fmt: skip
  add = train.add_argument
  add("--optimizer", choices=tuple(optimizers.FACTORIES), help=f"(default: {_TRAIN['optimizer']})")
  add("--alpha", help="INDIAN/INNAprop alpha (default: the optimizer's)")
  add("--beta", help="INDIAN/INNAprop beta (default: the optimizer's)")
  lrs = ", ".join(f"{k} {v:g}" for k, v in optimizers.DEFAULT_LEARNING_RATES.items())
  add("--lr", help=f"learning rate (default: {lrs})")


def _parser() -> argparse.ArgumentParser:
  parser = _Parser(
    prog=PROG, allow_abbrev=False,
    description="Train, sweep and compare INDIAN/INNAprop on embedded data, with plots.",
  )  # fmt: skip
  commands = parser.add_subparsers(dest="command", parser_class=_Parser)
  common = _common_options()
  for add in (_add_sweep, _add_compare, _add_train):
    add(commands, common)
  report = commands.add_parser(
    "report",
    allow_abbrev=False,
    help="redraw the plots and reprint the summary of a results folder",
  )
  report.add_argument("folder", help="a folder written by sweep, compare or train")
  return parser


# Plans: which sweeps a command runs ------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Sweep:
  """One sweep of a command: an optimizer, its grid and its static options."""

  name: str
  grid: dict[str, list[float]]
  static: dict[str, float]

  def factory(self) -> Callable[..., Any]:
    base = optimizers.FACTORIES[self.name]
    return lambda **hyper: base(**hyper, **self.static)


@dataclasses.dataclass(frozen=True)
class Plan:
  """A command's work, validated before anything is written: parse -> plan -> run -> report.

  Attributes:
    command: ``sweep``, ``compare`` or ``train``.
    argv: the command line as given.
    options: every recorded option's value (defaults filled in): what ``results.json``
      records and ``--resume`` compares.
    sweeps: the sweeps to run, one per optimizer.
    halving: the sweep's halving arguments, ``{}`` or ``{"halving": eta, "rungs": [...]}``.
    run: the options about this run of the command (``--out``, ``--force``, ``--resume``,
      the compilation cache).
  """

  command: str
  argv: tuple[str, ...]
  options: Mapping[str, Any]
  sweeps: tuple[_Sweep, ...]
  halving: Mapping[str, Any]
  run: Mapping[str, Any]

  def __getattr__(self, name: str) -> Any:  # plan.epochs, plan.out ...: one name per option
    for table in ("options", "run"):
      values = self.__dict__.get(table, {})
      if name in values:
        return values[name]
    raise AttributeError(name)

  @property
  def seeds_list(self) -> list[int]:
    return _seeds(self.options)

  @property
  def runs_per_sweep(self) -> list[int]:
    seeds = self.options.get("seeds", 1)
    return [math.prod(len(v) for v in sweep.grid.values()) * seeds for sweep in self.sweeps]


def _plan(
  command: str,
  given: Mapping[str, Any],
  argv: Sequence[str],
  recorded: Optional[Mapping[str, Any]] = None,
) -> Plan:
  """The validated plan: defaults, then the ``recorded`` options (--resume), then ``given``."""
  defaults = {**_DEFAULTS, **_COMMAND_DEFAULTS[command]}
  options = {**defaults, **{k: v for k, v in (recorded or {}).items() if k in defaults}}
  options |= {k: v for k, v in given.items() if k in defaults}
  run = {**_RUN_OPTIONS, **{k: v for k, v in given.items() if k in _RUN_OPTIONS}}
  sweeps = _PLANS[command](command, options)
  _check_plan(sweeps)
  halving = _halving(options)
  _check_options(options, run, sweeps, halving)
  return Plan(command, tuple(argv), types.MappingProxyType(options), tuple(sweeps),
              types.MappingProxyType(halving), types.MappingProxyType(run))  # fmt: skip


def _check_options(options: Mapping[str, Any], run: Mapping[str, Any], sweeps, halving) -> None:
  """The checks that need neither the data nor the folder, each made once, here."""
  if run["force"] and run["resume"]:
    raise UsageError("--force and --resume exclude each other")
  if run["resume"] and not run["out"]:
    raise UsageError("--resume: name the folder to continue with --out DIR")
  if halving and run["resume"]:
    raise UsageError("--resume: a --halving sweep cannot be resumed (it saves at the end)")
  try:  # the engine's own checks, once, with its messages
    check_arguments(sweeps[0].grid, _seeds(options), options["epochs"], options["batch_size"],
                    options["select"], options["val_fraction"], None)  # fmt: skip
  except SweepArgumentError as error:
    raise _usage_error(error) from None
  try:
    datasets.check_name(options["dataset"])
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  if options["model"] is not None and options["model"] not in models.MODELS:
    model = options["model"]
    raise UsageError(f"--model: unknown model {model!r}: use {' or '.join(models.MODELS)}")


def _seeds(options: Mapping[str, Any]) -> list[int]:
  """The seeds of every setting: --seed, then the next --seeds - 1."""
  return [options["seed"] + i for i in range(options.get("seeds", 1))]


def _usage_error(error: SweepArgumentError) -> UsageError:
  """The engine's message after the option it is about (``--batch-size: 1005 exceeds ...``)."""
  option = {"seeds": "--seed", "grid": "--lr"}.get(error.argument, _option(error.argument))
  return UsageError(f"{option}: {error.message.removeprefix(error.argument + ' ')}")


def _grid_option(command: str, options: Mapping[str, Any], name: str, hyper: str) -> list[float]:
  """A hyperparameter's values: its option's list, else the default grid or default value."""
  text = options.get("lr" if hyper == "learning_rate" else hyper)
  if text is not None:
    return _values(_option(hyper), text)
  grid = optimizers.SWEEP_GRIDS.get(name, {}) if command == "sweep" else {}
  return list(grid.get(hyper, [optimizers.default(name, hyper)]))


def _single(command: str, options: Mapping[str, Any], name: str, hyperparameter: str) -> float:
  values = _grid_option(command, options, name, hyperparameter)
  if len(values) != 1:
    raise UsageError(f"{_option(hyperparameter)}: give one value, got {len(values)}")
  return values[0]


def _plan_sweep(command: str, options: Mapping[str, Any]) -> list[_Sweep]:
  name = options["optimizer"]
  if options["sigma"] is not None and "sigma" not in optimizers.SWEPT[name]:
    raise UsageError(f"--sigma: only for --optimizer innaprop, not {name}")
  grid = {h: _grid_option(command, options, name, h) for h in optimizers.SWEPT[name]}
  return [_Sweep(name, grid, {"weight_decay": _single(command, options, name, "weight_decay")})]


def _plan_compare(command: str, options: Mapping[str, Any]) -> list[_Sweep]:
  listed = options["optimizers"]
  names = list(optimizers.FACTORIES) if listed is None else listed.split(",")
  unknown = [n for n in names if n not in optimizers.FACTORIES]
  if unknown or not names:
    raise UsageError(
      f"--optimizers: unknown {', '.join(repr(n) for n in unknown)}; "
      f"choose from {', '.join(optimizers.FACTORIES)}"
    )
  lr = options["lr"]
  lrs = optimizers.COMPARE_LEARNING_RATES if lr is None else _values("--lr", lr)
  plans = []
  for name in dict.fromkeys(names):
    grid = optimizers.default_grid(name) | {"learning_rate": lrs}
    plans.append(_Sweep(name, grid, {}))
  return plans


def _plan_train(command: str, options: Mapping[str, Any]) -> list[_Sweep]:
  name = options["optimizer"]
  if name not in optimizers.SWEPT and (options["alpha"] is not None or options["beta"] is not None):
    raise UsageError(f"--alpha/--beta: {name} has no alpha or beta")
  grid = {h: [_single(command, options, name, h)] for h in optimizers.default_grid(name)}
  return [_Sweep(name, grid, {})]


def _check_plan(plans: list[_Sweep]) -> None:
  """Builds each optimizer from its concrete grid: the library's checks, as one-line errors."""
  for plan in plans:
    arrays = {h: np.asarray(v) for h, v in plan.grid.items()}
    for hyperparameter, values in arrays.items():  # the sweep runs them in float32
      with np.errstate(over="ignore"):
        overflows = values[np.isfinite(values) & ~np.isfinite(values.astype(np.float32))]
      if overflows.size:
        raise UsageError(f"{_option(hyperparameter)}: {overflows[0]:g} overflows float32")
    try:
      plan.factory()(**arrays)
      for hyperparameter, values in arrays.items():  # Optax's own factories check nothing
        rule = _checks.RULES.get(hyperparameter)
        if rule is not None:
          _checks.check_hyperparameter(plan.name, hyperparameter, values, rule)
    except _checks.HyperparameterError as error:
      raise UsageError(
        f"{_option(error.name)}: must be {error.requirement}, got {error.value:g}"
      ) from None


def _halving(options: Mapping[str, Any]) -> dict[str, Any]:
  """The sweep's halving arguments (none for plain sweeps), checked: one line on a mistake."""
  eta, rungs = options.get("halving"), options.get("rungs")
  if eta is None:
    if rungs is not None:
      raise UsageError("--rungs: only with --halving")
    return {}
  epochs = None if rungs is None else [int(v) for v in _values("--rungs", rungs)]
  try:
    return {"halving": eta, "rungs": rung_epochs(options["epochs"], eta, epochs)}
  except ValueError as error:
    raise UsageError(f"--rungs: {str(error).removeprefix('sweep: ')}") from None


_PLANS = {"sweep": _plan_sweep, "compare": _plan_compare, "train": _plan_train}


# Entry point -------------------------------------------------------------------


class _Interrupted(Exception):
  """Ctrl-C or SIGTERM: what was saved is in ``folder``."""

  def __init__(self, folder: pathlib.Path):
    super().__init__(str(folder))
    self.folder = folder


def _terminate(signum: int, frame: Any) -> NoReturn:
  raise KeyboardInterrupt


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


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the ``indian-optax`` command; returns the exit status."""
  previous_handler = signal.signal(signal.SIGTERM, _terminate)
  try:
    argv = list(sys.argv[1:] if argv is None else argv)
    given = dict(vars(_parser().parse_args(argv)))  # only the options written on the line
    command = given.pop("command", None)
    if command is None:
      raise UsageError("choose a command: sweep, compare, train or report (see --help)")
    if command == "report":
      return _report(pathlib.Path(given["folder"]))
    return _run(_plan(command, given, argv), given)
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except _Interrupted as interrupted:
    print(
      f"{PROG}: interrupted; the completed chunks are saved in {interrupted.folder} "
      f"(continue with --resume --out {interrupted.folder})",
      file=sys.stderr,
    )
    return 130
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted", file=sys.stderr)
    return 130
  finally:
    signal.signal(signal.SIGTERM, previous_handler)


def _run(plan: Plan, given: Mapping[str, Any]) -> int:
  """sweep, compare or train: the plan is checked; then the folder, then the training."""
  folder, created = _prepared_folder(plan)
  _use_compile_cache(plan)
  try:
    with run_folder.locked(folder):
      document = run_folder.previous_document(folder)
      previous = None
      if plan.resume:
        previous = _resumed(plan, given, folder, document)
        plan = _plan(plan.command, given, plan.argv, recorded=previous.info.get("options", {}))
        if previous.complete:
          print(summary.render(previous, [], note="already complete: nothing to resume"))
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
  setting = os.environ.get(_CACHE_ENV, "")
  if plan.no_compile_cache or setting.lower() == "off":
    return
  named = plan.compile_cache or setting
  default = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "indian-optax" / "jax"
  folder = pathlib.Path(named or default).expanduser()
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
  if plan.out:
    out = pathlib.Path(plan.out)
  else:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = pathlib.Path("runs") / f"{plan.command}-{stamp}"
    out = next(
      p for i in range(1000) if not (p := out.with_name(out.name + (f"-{i}" if i else ""))).exists()
    )
  try:
    return run_folder.prepare(out)
  except run_folder.FolderError as error:
    raise UsageError(f"--out: {error}") from None


def _clear_previous(plan: Plan, folder: pathlib.Path, document: Optional[dict]) -> None:
  """Refuses a folder holding a result set, or removes that set with --force."""
  previous = _loaded(document)
  names = list(_figures(previous)) if previous is not None else []
  existing = run_folder.result_files(folder, document, names + ["curves.png"])
  if existing and not plan.force:
    raise UsageError(
      f"--out: {str(folder)!r} already holds results ({', '.join(p.name for p in existing)}); "
      "choose another folder, pass --force to replace them or --resume to continue them"
    )
  run_folder.remove(existing)


def _loaded(document: Optional[dict]) -> Optional[SweepResult]:
  try:
    return None if document is None else SweepResult.from_json(document)
  except (KeyError, TypeError, ValueError):
    return None


def _resumed(
  plan: Plan, given: Mapping[str, Any], folder: pathlib.Path, document: Optional[dict]
) -> SweepResult:
  """The partial result to resume from; the options given must be the recorded ones."""
  previous = _loaded(document)
  if previous is None:
    raise UsageError(f"--resume: {str(folder)!r} holds no results to resume")
  if previous.info.get("command") != plan.command:
    raise UsageError(
      f"--resume: {str(folder)!r} holds the results of {previous.info.get('command')!r}, "
      f"not {plan.command!r}"
    )
  for dest, old in previous.info.get("options", {}).items():
    new = given.get(dest, old)
    if _canonical(dest, new) != _canonical(dest, old):
      raise UsageError(
        f"--{dest.replace('_', '-')}: {new} differs from {old} recorded in {str(folder)!r}; "
        "--resume needs the arguments of the interrupted command"
      )
  if previous.info.get("options", {}).get("halving") is not None:
    raise UsageError("--resume: a --halving sweep cannot be resumed (it saves at the end)")
  return previous


def _canonical(dest: str, value: Any) -> Any:
  """A recorded option in comparable form: comma lists as tuples of numbers."""
  if isinstance(value, str) and dest in ("alpha", "beta", "lr", "sigma", "weight_decay", "rungs"):
    try:
      return tuple(float(v) for v in value.split(","))
    except ValueError:
      return value
  return value


def _train_and_save(plan: Plan, folder: pathlib.Path, previous: Optional[SweepResult]) -> int:
  """Loads the data, runs the plan's sweeps saving after every chunk, then plots and summary."""
  dataset, model = _dataset_and_model(plan)
  chunk_size = _resolved_chunk(plan, model)
  info = {
    "command": plan.command,
    "dataset": dataset.name,
    "model": model.name,
    "epochs": plan.epochs,
    "batch_size": plan.batch_size,
    "seed": plan.seed,
    "val_fraction": plan.val_fraction,
    "arguments": list(plan.argv),
    "options": dict(plan.options),
    "files": [RESULTS_JSON, RESULTS_CSV],
  }
  if plan.halving:
    info["halving"] = {"eta": plan.halving["halving"], "rungs": plan.halving["rungs"]}
  finished: list[SweepResult] = []

  def save(partial: SweepResult) -> None:
    so_far = SweepResult.concatenate([*finished, partial])
    with _interrupts_deferred():
      dataclasses.replace(so_far, complete=False, info=info).save(folder)

  try:
    with _Progress(plan, chunk_size, previous) as report:
      for sweep_ in plan.sweeps:
        before = previous.where(optimizer=sweep_.name) if previous is not None else None
        run = _run_sweep(sweep_, plan, chunk_size, (dataset, model), before, report, save)
        finished.append(run)
  except KeyboardInterrupt:
    raise _Interrupted(folder) from None
  result = dataclasses.replace(SweepResult.concatenate(finished), info=info, complete=False)
  drawn = _draw(result, folder)
  info["files"] += [p.name for p in drawn]
  result = dataclasses.replace(result, info=info, complete=True)
  written = result.save(folder)
  print(summary.render(result, [*written, *drawn]))
  return 0


def _resolved_chunk(plan: Plan, model) -> Optional[int]:
  """``--chunk``, with auto resolved for this model and backend (None: all at once)."""
  if plan.chunk != "auto":
    return plan.chunk
  largest = max(plan.runs_per_sweep)
  size = auto_chunk_size(model.init, plan.batch_size, largest)
  return None if size == largest else size


def _dataset_and_model(plan: Plan):
  try:
    dataset = datasets.load(plan.dataset, seed=plan.seed)
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  try:
    model = models.make_model(
      plan.model or dataset.default_model, dataset.sample_shape, dataset.num_classes
    )
  except ValueError as error:
    raise UsageError(f"--model: {error}") from None
  try:  # the training split the sweep will make, sized by the engine's own rule
    check_batch_size(plan.batch_size, training_split_size(dataset.y_train, plan.val_fraction))
  except SweepArgumentError as error:
    raise _usage_error(error) from None
  return dataset, model


def _run_sweep(sweep_: _Sweep, plan: Plan, chunk_size, data_and_model, before, report, save):
  dataset, model = data_and_model
  return sweep(
    sweep_.factory(),
    sweep_.grid,
    init_params=model.init,
    apply_fn=model.apply,
    data=(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
    epochs=plan.epochs,
    batch_size=plan.batch_size,
    seeds=plan.seeds_list,
    val_fraction=plan.val_fraction,
    select=plan.select,
    split_seed=plan.seed,
    chunk_size=chunk_size,
    name=sweep_.name,
    on_epoch=report,
    on_chunk=save,
    resume_from=before if before is not None and before.configs else None,
    **plan.halving,
  )


class _Progress:
  """A tqdm bar over every epoch of every chunk, with the live loss and the diverged runs."""

  def __init__(self, plan: Plan, chunk: Optional[int], previous: Optional[SweepResult]):
    seeds, runs = plan.options.get("seeds", 1), plan.runs_per_sweep
    halving = plan.halving or {"rungs": [], "halving": 1.0}  # no rungs: every epoch, all runs
    rungs, eta = halving["rungs"], halving["halving"]
    self.total = sum(
      planned_epochs(r // seeds, seeds, plan.epochs, rungs, eta, chunk) for r in runs
    )
    done = len(previous.configs) if previous is not None else 0
    self.initial = math.ceil(done / (chunk or max(runs))) * plan.epochs if done else 0
    self.bar: Any = None

  def __enter__(self) -> Callable[[EpochProgress], None]:
    self.bar = tqdm(
      total=self.total,
      initial=min(self.initial, self.total),
      unit="epoch",
      file=sys.stderr,
      dynamic_ncols=True,
    )
    return self.update

  def update(self, progress: EpochProgress) -> None:
    self.bar.set_description(f"chunk {progress.chunk + 1}/{progress.chunks}")
    loss = "all diverged" if math.isnan(progress.live_loss) else f"{progress.live_loss:.4f}"
    self.bar.set_postfix_str(f"live loss {loss}, diverged {progress.diverged}/{progress.runs}")
    self.bar.update(1)

  def __exit__(self, *exc: Any) -> None:
    self.bar.close()


# Plots and the report command ---------------------------------------------------


def _figures(result: SweepResult) -> dict[str, Callable[[pathlib.Path], Any]]:
  """The PNGs of a result set: name -> draw(path)."""
  info = result.info
  title = f"{info.get('dataset')}, {info.get('model')}, {result.epochs} epochs"
  figures: dict[str, Callable[[pathlib.Path], Any]] = {}
  if info.get("command") == "sweep" and {"alpha", "beta"} <= set(result.hyperparameter_names):
    metrics = [f"final_{result.selection}"] + ["final_train_loss"] * (
      result.selection != "train_loss"
    )
    for metric in metrics:
      name = f"heatmap_{metric.removeprefix('final_')}.png"
      label = f"{result.optimizers[0]}: {metric.replace('_', ' ')} ({title})"
      figures[name] = functools.partial(_heatmap, result, metric=metric, title=label)
  if info.get("command") == "compare":
    settings, what = result.chosen_settings(), "each optimizer's chosen setting"
  else:
    settings, what = result.ranked_settings()[:8], "the best settings"
  figures["curves.png"] = lambda path: plots.curves(
    result, settings, path, title=f"mean over seeds, {what}: {title}"
  )
  return figures


def _heatmap(result: SweepResult, path: pathlib.Path, *, metric: str, title: str) -> None:
  plots.heatmap(result, path, metric=metric, title=title)


def _draw(result: SweepResult, folder: pathlib.Path) -> list[pathlib.Path]:
  drawn = []
  for name, draw in _figures(result).items():
    run_folder.write_png(folder / name, draw)
    drawn.append(folder / name)
  return drawn


def _report(folder: pathlib.Path) -> int:
  """Redraws the plots of a saved folder and reprints its summary."""
  try:
    result = SweepResult.load(folder)
  except ValueError as error:
    raise UsageError(f"report: {error}") from None
  folder = folder if folder.is_dir() else folder.parent
  try:
    with run_folder.locked(folder):
      drawn = _draw(result, folder)
  except (run_folder.FolderError, OSError) as error:
    raise UsageError(f"report: {error}") from None
  print(summary.render(result, [folder / RESULTS_JSON, folder / RESULTS_CSV, *drawn]))
  return 0

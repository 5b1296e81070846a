"""The command line parsed into a typed :class:`Plan`: every option a value, every check once.

``parse(argv)`` turns the command line into a :class:`Plan` (or a :class:`Report` for
``indian-optax report DIR``): lists of numbers are tuples of floats, seeds integers, the
halving schedule resolved, ``--out`` a path, and every check that needs neither the data
nor the folder is made here, once, with the engine's own checks and messages. A mistake
raises :class:`UsageError`, one line. ``Plan.record()`` is what ``results.json`` keeps of
the work; ``Plan.resumed(metadata)`` is the plan of the interrupted command that ``--resume``
continues, the options given compared with the recorded ones as the values they stand for.
"""

import argparse
import dataclasses
import math
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, Optional, Union

import numpy as np

import indian_optax
from indian_optax.app import data as datasets
from indian_optax.app import engine, models, optimizers
from indian_optax.app.results import SELECTIONS, HalvingRecord, Metadata
from indian_optax.app.sweeping import SweepArgumentError, check_arguments

PROG = "indian-optax"
COMMANDS = ("sweep", "compare", "train")
_INT_MAX, _SEED_MAX = 2**31 - 1, 2**32 - 1
_EPOCHS_MAX, _SEEDS_MAX, _RUNS_MAX = 10**5, 10**4, 10**6
"""Bounds that keep a command's records in memory (a run keeps every epoch's metrics)."""


class UsageError(Exception):
  """A user mistake: reported as one line, exit status 2."""


# Values: each option's parser, raising the one-line message --------------------------------


def _number_list(option: str) -> Callable[[str], tuple[float, ...]]:
  """A comma list of numbers (duplicates dropped, order kept); ranges are checked later."""

  def parse(text: str) -> tuple[float, ...]:
    values = []
    for item in text.split(","):
      try:
        values.append(float(item))
      except ValueError:
        raise UsageError(f"{option}: {item.strip()!r} is not a number") from None
    return tuple(dict.fromkeys(values))

  return parse


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


_positive_int = _bounded_int(1, _INT_MAX)


def _rung_list(text: str) -> tuple[int, ...]:
  values = _number_list("--rungs")(text)
  if any(v != int(v) for v in values if math.isfinite(v)) or not all(map(math.isfinite, values)):
    raise UsageError(f"--rungs: rungs are whole epochs, got {text}")
  return tuple(int(v) for v in values)


def _eta(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
  if not (math.isfinite(value) and value > 1):
    raise argparse.ArgumentTypeError(f"must be > 1, got {text}")
  return value


def _fraction(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
  if not 0.0 <= value < 1.0:
    raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
  return value


def _chunk(text: str) -> Union[int, str]:
  return "auto" if text == "auto" else _positive_int(text)


def _names(text: str) -> tuple[str, ...]:
  return tuple(dict.fromkeys(text.split(",")))


# The options, their defaults and what is recorded ------------------------------------------

COMMON_DEFAULTS: dict[str, Any] = {
  "dataset": "digits", "model": None, "epochs": 15, "batch_size": 64, "seed": 0,
  "val_fraction": 0.1, "select": "val_accuracy", "chunk": "auto",
}  # fmt: skip
COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {
  "sweep": dict(optimizer="indian", alpha=None, beta=None, lr=None, sigma=None,
                weight_decay=None, seeds=1, halving=None, rungs=None),
  "compare": dict(optimizers=None, lr=None, seeds=3),
  "train": dict(optimizer="indian", alpha=None, beta=None, lr=None),
}  # fmt: skip
"""Every recorded option's default (None: the optimizer's default grid or value)."""
_RUN_DEFAULTS: dict[str, Any] = {
  "out": None, "force": False, "resume": False, "compile_cache": None, "no_compile_cache": False,
}  # fmt: skip
"""Options about this run of the command, not about the work: never recorded."""
_FROM_TEXT: dict[str, Callable[[str], Any]] = {
  "epochs": _bounded_int(1, _EPOCHS_MAX), "batch_size": _positive_int,
  "seed": _bounded_int(0, _SEED_MAX), "val_fraction": _fraction, "chunk": _chunk,
  "seeds": _bounded_int(1, _SEEDS_MAX), "halving": _eta,
  "rungs": _rung_list, "optimizers": _names,
  **{name: _number_list(f"--{name.replace('_', '-')}") for name in
     ("alpha", "beta", "lr", "sigma", "weight_decay")},
}  # fmt: skip
"""Option -> the parser of its text (the rest are strings)."""


def _option(name: str) -> str:
  """The command-line spelling of an option or hyperparameter (learning_rate is --lr)."""
  return {"learning_rate": "--lr"}.get(name, "--" + name.replace("_", "-"))


def _shown(value: Any) -> str:
  if isinstance(value, (tuple, list)):
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
  return str(value)


# The plan --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OptimizerSweep:
  """One sweep of a command: an optimizer, its grid and its static options."""

  name: str
  grid: Mapping[str, tuple[float, ...]]
  static: Mapping[str, Optional[float]]

  def factory(self) -> Callable[..., Any]:
    base = optimizers.FACTORIES[self.name]
    return lambda **hyper: base(**hyper, **self.static)

  @property
  def settings(self) -> int:
    return math.prod(len(values) for values in self.grid.values())


@dataclasses.dataclass(frozen=True)
class Report:
  """``indian-optax report FOLDER``: redraw a saved result set's plots, reprint its summary."""

  folder: pathlib.Path


@dataclasses.dataclass(frozen=True)
class Plan:
  """A command's work, checked before anything is written: parse -> plan -> run -> report.

  Attributes:
    command: ``sweep``, ``compare`` or ``train``.
    arguments: the command line as given.
    options: every recorded option's value, defaults filled in (typed: tuples of floats
      for lists; None where the optimizer's own default grid or value applies).
    given: the recorded options written on the command line.
    sweeps: the sweeps to run, one per optimizer.
    halving: the halving schedule (rungs resolved), None for a full sweep.
    out, force, resume, compile_cache, no_compile_cache: this run of the command.
  """

  command: str
  arguments: tuple[str, ...]
  options: Mapping[str, Any]
  given: frozenset[str]
  sweeps: tuple[OptimizerSweep, ...]
  halving: Optional[HalvingRecord]
  out: Optional[pathlib.Path]
  force: bool
  resume: bool
  compile_cache: Optional[pathlib.Path]
  no_compile_cache: bool

  @property
  def epochs(self) -> int:
    return self.options["epochs"]

  @property
  def batch_size(self) -> int:
    return self.options["batch_size"]

  @property
  def seeds(self) -> list[int]:
    """The seeds of every setting: --seed, then the next --seeds - 1."""
    return _seeds(self.options)

  @property
  def first_seed(self) -> int:
    """--seed: the first seed, also the seed of the data's splits."""
    return self.options["seed"]

  @property
  def dataset(self) -> str:
    return self.options["dataset"]

  @property
  def model(self) -> Optional[str]:
    """--model, None for the data set's default model."""
    return self.options["model"]

  @property
  def val_fraction(self) -> float:
    return self.options["val_fraction"]

  @property
  def select(self) -> str:
    return self.options["select"]

  @property
  def chunk(self) -> Union[int, str]:
    return self.options["chunk"]

  def record(self) -> dict[str, Any]:
    """The recorded options as JSON values (what ``results.json`` keeps under "options"),
    each hyperparameter left to its default given as the values it stood for."""
    options = dict(self.options)
    for option in _HYPERPARAMETER_OPTIONS:
      if options.get(option, ...) is None:
        options[option] = self._values_of(option)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}

  def _values_of(self, option: str) -> Optional[tuple[float, ...]]:
    """The values a hyperparameter option took in the sweeps (None: not used)."""
    name = "learning_rate" if option == "lr" else option
    for sweep in self.sweeps:
      if name in sweep.grid:
        return sweep.grid[name]
      value = sweep.static.get(name)
      if value is not None:
        return (value,)
    return None

  def resumed(self, recorded: Metadata, folder: pathlib.Path) -> "Plan":
    """The plan of the interrupted command ``recorded``, which the options given must equal
    (as the values they stand for: ``--lr 0.1`` equals a recorded default of 0.1).

    Raises:
      UsageError: an option given differs from the recorded one, or the record cannot be
        read or run (a hand-edited or damaged ``results.json``).
    """
    try:
      old = _from_record(self.command, recorded.options)
      previous = _plan(self.command, recorded.arguments, old, frozenset(old), _RUN_DEFAULTS)
    except UsageError as error:
      message = f"--resume: {str(folder)!r} records options that cannot run: {error}"
      raise UsageError(message) from None
    given, then = self.record(), previous.record() | {"model": recorded.model}
    for name in sorted(self.given):
      if given[name] is not None and given[name] != then[name]:
        raise UsageError(
          f"{_option(name)}: {_shown(given[name])} differs from {_shown(then[name])} recorded "
          f"in {str(folder)!r}; --resume needs the arguments of the interrupted command"
        )
    run = {name: getattr(self, name) for name in _RUN_DEFAULTS}
    return dataclasses.replace(previous, **run)


_HYPERPARAMETER_OPTIONS = ("alpha", "beta", "lr", "sigma", "weight_decay")


def _from_record(command: str, recorded: Mapping[str, Any]) -> dict[str, Any]:
  """Recorded options as typed values, read through the command line's own parsers."""
  defaults = {**COMMON_DEFAULTS, **COMMAND_DEFAULTS[command]}
  values: dict[str, Any] = {}
  for name, value in recorded.items():
    if name not in defaults:  # not an option of this command's work
      continue
    if value is None:
      if defaults[name] is not None:
        raise UsageError(f"{_option(name)}: recorded as null")
      values[name] = None
      continue
    if isinstance(value, list):
      text = ",".join(map(str, value))
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
      text = str(value)  # 3.0 for an integer option is refused, as it would be typed
    else:
      raise UsageError(f"{_option(name)}: recorded as {value!r}")
    try:
      values[name] = _FROM_TEXT[name](text) if name in _FROM_TEXT else text
    except argparse.ArgumentTypeError as error:
      raise UsageError(f"{_option(name)}: {error}") from None
  if values.get("select", COMMON_DEFAULTS["select"]) not in SELECTIONS:
    raise UsageError(f"--select: recorded as {values['select']!r}")
  return values


def _plan(
  command: str,
  arguments: Sequence[str],
  given: Mapping[str, Any],
  given_names: frozenset[str],
  run: Mapping[str, Any],
) -> Plan:
  """The checked plan of ``command`` with the ``given`` options over the defaults."""
  defaults = {**COMMON_DEFAULTS, **COMMAND_DEFAULTS[command]}
  options = {**defaults, **{k: v for k, v in given.items() if k in defaults}}
  _check_run(run, options)
  sweeps = tuple(_SWEEPS[command](options))
  for sweep in sweeps:
    _check_values(sweep)
  halving = _halving(options)
  _check_options(options, sweeps[0])
  paths = {k: None if run[k] is None else pathlib.Path(run[k]) for k in ("out", "compile_cache")}
  return Plan(
    command, tuple(arguments), options, given_names & set(defaults), sweeps, halving,
    out=paths["out"], force=run["force"], resume=run["resume"],
    compile_cache=paths["compile_cache"], no_compile_cache=run["no_compile_cache"],
  )  # fmt: skip


def _check_run(run: Mapping[str, Any], options: Mapping[str, Any]) -> None:
  if run["force"] and run["resume"]:
    raise UsageError("--force and --resume exclude each other")
  if run["resume"] and not run["out"]:
    raise UsageError("--resume: name the folder to continue with --out DIR")
  if options.get("halving") is not None and run["resume"]:
    raise UsageError("--resume: a --halving sweep cannot be resumed (it saves at the end)")


def _check_options(options: Mapping[str, Any], sweep: OptimizerSweep) -> None:
  """The engine's own checks (once, with its messages), the data set's name, the model's."""
  seeds = _seeds(options)
  if sweep.settings * len(seeds) > _RUNS_MAX:
    raise UsageError(
      f"--seeds: {sweep.settings} settings x {len(seeds)} seeds is more than {_RUNS_MAX:,} "
      "runs: split the sweep"
    )
  try:
    check_arguments(sweep.grid, seeds, options["epochs"], options["batch_size"],
                    options["select"], options["val_fraction"], None)  # fmt: skip
  except SweepArgumentError as error:
    option = "--seed" if error.argument == "seeds" else _option(error.argument)
    raise UsageError(f"{option}: {error.message.removeprefix(error.argument + ' ')}") from None
  try:
    datasets.check_name(options["dataset"])
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  if options["model"] is not None and options["model"] not in models.MODELS:
    model = options["model"]
    raise UsageError(f"--model: unknown model {model!r}: use {' or '.join(models.MODELS)}")


def _seeds(options: Mapping[str, Any]) -> list[int]:
  return [options["seed"] + i for i in range(options.get("seeds", 1))]


def _values(options: Mapping[str, Any], name: str, hyperparameter: str, grid: bool) -> tuple:
  """A hyperparameter's values: its option's, else the default grid (a sweep) or value."""
  given = options.get("lr" if hyperparameter == "learning_rate" else hyperparameter)
  if given is not None:
    return given
  default_grid = optimizers.SWEEP_GRIDS.get(name, {}) if grid else {}
  return tuple(default_grid.get(hyperparameter, [optimizers.default(name, hyperparameter)]))


def _single(options: Mapping[str, Any], name: str, hyperparameter: str) -> Any:
  values = _values(options, name, hyperparameter, grid=False)
  if len(values) != 1:
    raise UsageError(f"{_option(hyperparameter)}: give one value, got {len(values)}")
  return values[0]


def _sweep_sweeps(options: Mapping[str, Any]) -> list[OptimizerSweep]:
  name = options["optimizer"]
  if name not in optimizers.SWEPT:
    raise UsageError(
      f"--optimizer: {name!r} is not swept here: use {' or '.join(optimizers.SWEPT)}"
    )
  if options["sigma"] is not None and "sigma" not in optimizers.SWEPT[name]:
    raise UsageError(f"--sigma: only for --optimizer innaprop, not {name}")
  grid = {h: _values(options, name, h, grid=True) for h in optimizers.SWEPT[name]}
  return [OptimizerSweep(name, grid, {"weight_decay": _single(options, name, "weight_decay")})]


def _compare_sweeps(options: Mapping[str, Any]) -> list[OptimizerSweep]:
  names = options["optimizers"] or tuple(optimizers.FACTORIES)
  unknown = [n for n in names if n not in optimizers.FACTORIES]
  if unknown:
    raise UsageError(
      f"--optimizers: unknown {', '.join(repr(n) for n in unknown)}; "
      f"choose from {', '.join(optimizers.FACTORIES)}"
    )
  lrs = options["lr"] or tuple(optimizers.COMPARE_LEARNING_RATES)
  grids = [optimizers.default_grid(name) | {"learning_rate": lrs} for name in names]
  return [
    OptimizerSweep(n, {k: tuple(v) for k, v in g.items()}, {})
    for n, g in zip(names, grids, strict=True)
  ]


def _train_sweeps(options: Mapping[str, Any]) -> list[OptimizerSweep]:
  name = options["optimizer"]
  if name not in optimizers.FACTORIES:
    raise UsageError(
      f"--optimizer: unknown {name!r}; choose from {', '.join(optimizers.FACTORIES)}"
    )
  if name not in optimizers.SWEPT and (options["alpha"] is not None or options["beta"] is not None):
    raise UsageError(f"--alpha/--beta: {name} has no alpha or beta")
  grid = {h: (_single(options, name, h),) for h in optimizers.default_grid(name)}
  return [OptimizerSweep(name, grid, {})]


_SWEEPS = {"sweep": _sweep_sweeps, "compare": _compare_sweeps, "train": _train_sweeps}


def _check_values(sweep: OptimizerSweep) -> None:
  """Every value of every hyperparameter, one at a time: float32, then the optimizer's rules.

  INDIAN and INNAprop check their own arguments; Optax's factories check none, so the
  command's learning rates are held to the rule every optimizer here shares (finite,
  >= 0). An optimizer is built once per value, with the first value of the others, never
  from a whole list.
  """
  for hyperparameter, values in [*sweep.grid.items(), *sweep.static.items()]:
    listed = values if isinstance(values, tuple) else (values,)
    for value in listed:
      if value is None:
        continue
      with np.errstate(over="ignore"):
        if math.isfinite(value) and not np.isfinite(np.float32(value)):
          raise UsageError(f"{_option(hyperparameter)}: {value:g} overflows float32")
      if hyperparameter == "learning_rate" and not (math.isfinite(value) and value >= 0):
        requirement = ">= 0" if math.isfinite(value) else "finite"
        raise UsageError(f"--lr: must be {requirement}, got {value:g}")
  if sweep.name not in optimizers.SWEPT:
    return
  first = {h: values[0] for h, values in sweep.grid.items()}
  for hyperparameter, values in sweep.grid.items():
    for value in values:
      # The value as given, then as the float32 the runs compute with (1e-46 is 0 there).
      for tried in dict.fromkeys((value, float(np.float32(value)))):
        try:
          sweep.factory()(**(first | {hyperparameter: tried}))
        except indian_optax.HyperparameterError as error:
          rounded = f" ({value!r} is {tried:g} in float32, the runs' precision)"
          rounded = "" if tried == value else rounded
          raise UsageError(
            f"{_option(error.name)}: must be {error.requirement}, got {error.value:g}{rounded}"
          ) from None


def _halving(options: Mapping[str, Any]) -> Optional[HalvingRecord]:
  """The halving schedule (None for a full sweep), its rungs resolved and checked."""
  eta, rungs = options.get("halving"), options.get("rungs")
  if eta is None:
    if rungs is not None:
      raise UsageError("--rungs: only with --halving")
    return None
  epochs = options["epochs"]
  if epochs < 2:  # a rung is an epoch before the last: none exists
    raise UsageError(
      f"--halving: cuts settings after an epoch before the last, and --epochs {epochs} has "
      "none: give --epochs 2 or more, or leave out --halving"
    )
  try:
    chosen = tuple(engine.rung_epochs(epochs, eta, rungs))
  except ValueError as error:
    raise UsageError(f"--rungs: {str(error).removeprefix('sweep: ')}") from None
  if not chosen:
    raise UsageError(
      f"--halving: {eta:g} leaves no rung before epoch {epochs} (epochs / eta rounds to no "
      f"epoch from 1 to {epochs - 1}): give a smaller --halving, more --epochs or --rungs"
    )
  return HalvingRecord(eta, chosen)


# The parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
  def error(self, message: str) -> NoReturn:  # one line, not usage + message
    wanted = re.match(r"argument (--[\w-]+): expected one argument", message)
    if wanted:
      option = wanted.group(1)
      message = f"{option}: expected a value (for a negative one write {option}=-0.1)"
    raise UsageError(message.removeprefix("argument "))


def _listed(values: Sequence[float]) -> str:
  return ",".join(f"{v:g}" for v in values)


def _common(common: argparse.ArgumentParser) -> None:
  add, d = common.add_argument, COMMON_DEFAULTS
  add("--dataset", help=f"digits, mnist1d, or the path of an .npz file (default: {d['dataset']})")
  add("--model", help="mlp or cnn (default: mlp for digits and flat inputs, else cnn)")
  add("--epochs", help=f"passes over the training set (default: {d['epochs']})")
  add("--batch-size", help=f"minibatch size (default: {d['batch_size']})")
  add("--seed", help=f"first seed: init, data order, splits (default: {d['seed']})")
  add("--val-fraction", help="share of the training set held out for validation "
      f"(default: {d['val_fraction']})")  # fmt: skip
  add("--select", choices=tuple(SELECTIONS),
      help="what chooses the best setting: final validation accuracy, final validation loss "
      f"or final training loss (default: {d['select']})")  # fmt: skip
  add("--chunk", help="configurations per compiled program, or auto (on a CPU 16 per "
      "program, one at a time for compute-bound models; on an accelerator all); results are "
      f"saved after each (default: {d['chunk']})")  # fmt: skip
  add("--out", help="output folder (default: runs/<command>-<time>)")
  add("--force", action="store_true", help="replace the result set already in --out")
  add("--resume", action="store_true",
      help="continue the interrupted command whose results are in --out")  # fmt: skip
  cache = "JAX's persistent compilation cache (default: $INDIAN_OPTAX_COMPILE_CACHE or "
  add("--compile-cache", metavar="DIR", help=cache + "~/.cache/indian-optax/jax)")
  add("--no-compile-cache", action="store_true", help="compile everything anew")


def _sweep_options(add: Callable[..., Any]) -> None:
  grids, lr, default = optimizers.SWEEP_GRIDS, optimizers.DEFAULT_LEARNING_RATES, optimizers.default
  each = lambda values: ", ".join(f"{name} {value}" for name, value in values.items())
  add("--optimizer", choices=tuple(optimizers.SWEPT), help="(default: indian)")
  add("--alpha", help=f"comma list (default: {_listed(grids['indian']['alpha'])})")
  add(
    "--beta",
    help=f"comma list (default: {each({n: _listed(g['beta']) for n, g in grids.items()})})",
  )
  add("--lr", help=f"comma list (default: {each({n: f'{lr[n]:g}' for n in grids})})")
  add("--sigma", help=f"innaprop only: comma list (default: {default('innaprop', 'sigma'):g})")
  decays = {n: _listed([default(n, "weight_decay") or 0.0]) for n in grids}
  add("--weight-decay", help=f"one value (default: {each(decays)})")
  add("--seeds", help=f"seeds per grid point (default: {COMMAND_DEFAULTS['sweep']['seeds']})")
  add("--halving", help="successive halving: keep the best 1/ETA of the settings at each rung "
      "(e.g. 3; default: train every setting to the end)")  # fmt: skip
  add("--rungs", help="with --halving: comma list of the epochs to cut after "
      "(default: epochs / ETA^k, k = 1, 2 ...)")  # fmt: skip


def _compare_options(add: Callable[..., Any]) -> None:
  add("--optimizers", help=f"comma list (default: {','.join(optimizers.FACTORIES)})")
  lrs = _listed(optimizers.COMPARE_LEARNING_RATES)
  add("--lr", help=f"learning-rate grid tuned for each (default: {lrs})")
  add("--seeds", help=f"seeds per setting (default: {COMMAND_DEFAULTS['compare']['seeds']})")


def _train_options(add: Callable[..., Any]) -> None:
  add("--optimizer", choices=tuple(optimizers.FACTORIES), help="(default: indian)")
  add("--alpha", help="INDIAN/INNAprop alpha (default: the optimizer's)")
  add("--beta", help="INDIAN/INNAprop beta (default: the optimizer's)")
  lrs = ", ".join(f"{k} {v:g}" for k, v in optimizers.DEFAULT_LEARNING_RATES.items())
  add("--lr", help=f"learning rate (default: {lrs})")


_HELP = {
  "sweep": "alpha x beta (x lr x seed) grid, one vmapped program",
  "compare": "INDIAN and INNAprop against the usual Optax optimizers",
  "train": "one run",
}


def parser() -> argparse.ArgumentParser:
  """The ``indian-optax`` parser. An option is in the parsed arguments only when written
  (no argparse defaults: what ``--resume`` compares); values stay text, typed by :func:`parse`."""
  description = "Train, sweep and compare INDIAN/INNAprop on embedded data, with plots."
  main = _Parser(prog=PROG, allow_abbrev=False, description=description)
  commands = main.add_subparsers(dest="command", parser_class=_Parser)
  common = _Parser(add_help=False, allow_abbrev=False, argument_default=argparse.SUPPRESS)
  _common(common)
  for command, options in (("sweep", _sweep_options), ("compare", _compare_options),
                           ("train", _train_options)):  # fmt: skip
    sub = commands.add_parser(command, parents=[common], allow_abbrev=False,
                              argument_default=argparse.SUPPRESS, help=_HELP[command])  # fmt: skip
    options(sub.add_argument)
  report = commands.add_parser(
    "report",
    allow_abbrev=False,
    help="redraw the plots and reprint the summary of a results folder",
  )
  report.add_argument("folder", help="a folder written by sweep, compare or train")
  return main


def parse(argv: Sequence[str]) -> Union[Plan, Report]:
  """The command line as a checked :class:`Plan` (or a :class:`Report`).

  Raises:
    UsageError: the first mistake, in one line.
  """
  written = [a.split("=", 1)[0] for a in argv if a.startswith("--") and len(a) > 2]
  twice = sorted({a for a in written if written.count(a) > 1})
  if twice:  # argparse would keep the last one silently
    raise UsageError(f"{twice[0]}: given more than once")
  given = dict(vars(parser().parse_args(list(argv))))
  command = given.pop("command", None)
  if command is None:
    raise UsageError("choose a command: sweep, compare, train or report (see --help)")
  if command == "report":
    return Report(pathlib.Path(given["folder"]))
  values = {}
  for name, text in given.items():
    try:
      values[name] = _FROM_TEXT[name](text) if name in _FROM_TEXT else text
    except argparse.ArgumentTypeError as error:
      raise UsageError(f"{_option(name)}: {error}") from None
  run = {**_RUN_DEFAULTS, **{k: v for k, v in values.items() if k in _RUN_DEFAULTS}}
  return _plan(command, argv, values, frozenset(values), run)

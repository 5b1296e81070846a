"""The command line parsed into a typed :class:`Plan`: every option a value, every check once.

``parse(argv)`` turns the command line into a :class:`Plan` (or a :class:`Report` for
``indian-optax report DIR``). The options of the work are one typed :class:`Options`, read
from the command line's text or, for ``--resume``, from the JSON that ``results.json``
recorded, through one table of readers (:data:`_READERS`); then one function,
:func:`_plan`, makes every check that needs neither the data nor the folder, whichever the
source: its own bounds, the optimizers' own checks, the sweep engine's
(:func:`~indian_optax.app.sweeping.check_arguments`, :func:`~indian_optax.app.engine.rung_epochs`).
A mistake raises :class:`UsageError`, one line naming the option.
"""

import argparse
import dataclasses
import importlib.util
import math
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, NoReturn, Optional, Union

import numpy as np

import indian_optax
from indian_optax.app import data as datasets
from indian_optax.app import engine, models, optimizers
from indian_optax.app.results import SELECTIONS, HalvingRecord, Metadata
from indian_optax.app.space import Range, Space
from indian_optax.app.sweeping import SweepArgumentError, check_arguments

PROG = "indian-optax"
COMMANDS = ("sweep", "compare", "train", "tune")
SAMPLERS = ("tpe", "random", "gp", "cmaes")
_TRIALS_MAX = 10**5
_EPOCHS_MAX, _SEEDS_MAX, _RUNS_MAX = 10**5, 10**4, 10**6
"""Bounds that keep a command's records in memory (a run keeps every epoch's metrics)."""


class UsageError(Exception):
  """A user mistake: reported as one line, exit status 2."""


# The options of the work ---------------------------------------------------------------------


Values = Union[tuple[float, ...], Range]


@dataclasses.dataclass(frozen=True)
class Options:
  """The options of a command's work, typed: what ``results.json`` records and ``--resume``
  compares. A hyperparameter option left None stands for the optimizer's default grid or value.
  """

  dataset: str = "digits"
  model: Optional[str] = None  # None: the data set's default model
  epochs: int = 15
  batch_size: int = 64
  seed: int = 0  # the first seed, also the seed of the data's splits
  val_fraction: float = 0.1
  select: str = "val_accuracy"
  chunk: Union[int, str] = "auto"
  optimizer: str = "indian"
  optimizers: Optional[tuple[str, ...]] = None
  # A hyperparameter: its values (a sweep's list, or tune's one fixed value), or tune's Range.
  alpha: Optional[Values] = None
  beta: Optional[Values] = None
  lr: Optional[Values] = None
  sigma: Optional[Values] = None
  weight_decay: Optional[Values] = None
  seeds: int = 1  # seeds per setting
  halving: Optional[float] = None
  rungs: Optional[tuple[int, ...]] = None
  trials: int = 64
  batch: int = 16
  sampler: str = "tpe"
  storage: Optional[str] = None  # None: an SQLite file in --out
  study: str = "indian-optax"

  @property
  def seed_list(self) -> list[int]:
    """The seeds of every setting: ``seed``, then the next ``seeds - 1``."""
    return [self.seed + i for i in range(self.seeds)]


_COMMON = ("dataset", "model", "epochs", "batch_size", "seed", "val_fraction", "select", "chunk")
COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
  "sweep": (*_COMMON, "optimizer", "alpha", "beta", "lr", "sigma", "weight_decay", "seeds",
            "halving", "rungs"),
  "compare": (*_COMMON, "optimizers", "lr", "seeds"),
  "train": (*_COMMON, "optimizer", "alpha", "beta", "lr"),
  "tune": (*_COMMON, "optimizer", "alpha", "beta", "lr", "sigma", "weight_decay", "seeds",
           "halving", "rungs", "trials", "batch", "sampler", "storage", "study"),
}  # fmt: skip
"""The options of each command's work (the rest of :class:`Options` keep their defaults)."""
_COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {"compare": {"seeds": 3}}
"""Where a command's default differs from :class:`Options`'."""
_DEFAULTS = Options()
RUN_OPTIONS = ("out", "force", "resume", "compile_cache", "no_compile_cache")
"""Options about this run of the command, not about the work: never recorded."""
TUNE_RUN_OPTIONS = ("trials", "batch", "sampler", "chunk")
"""tune's options that may change from one run on a study to the next (more trials, another
sampler): recorded, but not part of what the study is."""


def _option(name: str) -> str:
  """The command-line spelling of an option or a hyperparameter (learning_rate is --lr)."""
  return "--" + optimizers.OPTION_NAMES.get(name, name).replace("_", "-")


def _as_json(value: Any) -> Any:
  if isinstance(value, Range):
    return value._asdict()
  return list(value) if isinstance(value, tuple) else value


def shown(value: Any) -> str:
  """An option's value (typed or as recorded) as the command line writes it."""
  if isinstance(value, dict) and set(value) == {"low", "high", "log"}:
    value = Range(**value)
  if isinstance(value, Range):
    return f"{value.low:g}:{value.high:g}" + ("" if value.log else ":linear")
  if isinstance(value, (tuple, list)):
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
  return str(value)


# Reading a value: from the command line's text, or from the JSON results.json recorded ------


def _integer(text: str) -> int:
  try:
    return int(text)
  except ValueError:
    raise ValueError(f"{text!r} is not an integer") from None


def _number(text: str) -> float:
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"{text.strip()!r} is not a number") from None


def _numbers(text: str) -> tuple[float, ...]:
  """A comma list of numbers (duplicates dropped, order kept)."""
  return tuple(dict.fromkeys(_number(item) for item in text.split(",")))


def _whole_numbers(text: str) -> tuple[int, ...]:
  values = _numbers(text)
  if not all(math.isfinite(v) and v == int(v) for v in values):
    raise ValueError(f"rungs are whole epochs, got {text}")
  return tuple(int(v) for v in values)


def _range(text: str) -> Values:
  """tune's value of a hyperparameter: ``LOW:HIGH`` (log-uniform), ``LOW:HIGH:linear`` (or
  ``:log``), or one number (fixed)."""
  parts = text.split(":")
  if len(parts) == 1:
    values = _numbers(text)
    if len(values) != 1:
      raise ValueError(f"give a range LOW:HIGH or one value, got {text}")
    return values
  scale = parts.pop() if len(parts) == 3 else "log"
  if len(parts) != 2 or scale not in ("log", "linear"):
    raise ValueError(f"a range is LOW:HIGH, LOW:HIGH:linear or LOW:HIGH:log, got {text}")
  return Range(_number(parts[0]), _number(parts[1]), log=scale == "log")


def _range_from_json(value: Any) -> Values:
  """A recorded range ({"low", "high", "log"}) or fixed value ([v])."""
  if isinstance(value, dict) and set(value) == {"low", "high", "log"}:
    bounds = [value["low"], value["high"]]
    if all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds) and isinstance(
      value["log"], bool
    ):
      return Range(float(bounds[0]), float(bounds[1]), value["log"])
  if isinstance(value, list) and len(value) == 1:
    return _Reader(_numbers, (int, float)).from_json(value)
  raise ValueError(f"recorded as {value!r}")


def _absolute_storage(url: str) -> str:
  """A file storage's path made absolute (``journal:FILE``, ``sqlite:///FILE``), so that the
  recorded study is found again from any directory; server URLs are kept as given."""
  if url.startswith("journal:") and len(url) > len("journal:"):
    return "journal:" + str(pathlib.Path(url.removeprefix("journal:")).expanduser().resolve())
  if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///":
    path = url.removeprefix("sqlite:///")
    if path != ":memory:" and "?" not in path:
      return "sqlite:///" + str(pathlib.Path(path).expanduser().resolve())
  return url


def _names(text: str) -> tuple[str, ...]:
  return tuple(dict.fromkeys(text.split(",")))


def _chunk(text: str) -> Union[int, str]:
  return "auto" if text == "auto" else _integer(text)


class _Reader(NamedTuple):
  """How one option's value is read: from its text, and the JSON types it is recorded as."""

  text: Callable[[str], Any]
  recorded_as: tuple[type, ...]  # a list of these for a listed option

  def from_json(self, value: Any) -> Any:
    if self.text is _range:
      return _range_from_json(value)
    if self.text in _LISTED:
      if isinstance(value, str):  # format 3 of release 0.2 recorded lists as the text given
        return self.text(value)
      if not isinstance(value, list) or not all(self._is(v) for v in value):
        raise ValueError(f"recorded as {value!r}")
      return tuple(dict.fromkeys(self._as(v) for v in value))
    if not self._is(value):
      raise ValueError(f"recorded as {value!r}")
    return self._as(value)

  def _is(self, value: Any) -> bool:
    return isinstance(value, self.recorded_as) and not isinstance(value, bool)

  def _as(self, value: Any) -> Any:
    return float(value) if float in self.recorded_as else value


_LISTED = (_numbers, _whole_numbers, _names)
_STRING, _INTEGER, _NUMBER = (
  _Reader(str, (str,)),
  _Reader(_integer, (int,)),
  _Reader(_number, (int, float)),
)
_READERS: dict[str, _Reader] = {
  "dataset": _STRING, "model": _STRING, "select": _STRING, "optimizer": _STRING,
  "epochs": _INTEGER, "batch_size": _INTEGER, "seed": _INTEGER, "seeds": _INTEGER,
  "val_fraction": _NUMBER, "halving": _NUMBER,
  "chunk": _Reader(_chunk, (int, str)),
  "optimizers": _Reader(_names, (str,)), "rungs": _Reader(_whole_numbers, (int,)),
  **{name: _Reader(_numbers, (int, float)) for name in optimizers.OPTION_NAMES.values()},
  "trials": _INTEGER, "batch": _INTEGER, "sampler": _STRING, "study": _STRING,
  "storage": _Reader(_absolute_storage, (str,)),
}  # fmt: skip
"""Every option of the work -> its reader."""
_TUNE_READERS = {name: _Reader(_range, (dict, list)) for name in optimizers.OPTION_NAMES.values()}
"""tune reads its hyperparameters as ranges or single values."""


def _read(command: str, values: Mapping[str, Any], source: str) -> Options:
  """The :class:`Options` of ``command`` from ``values`` (text or recorded JSON) over the
  defaults; a value of another command's option is ignored."""
  typed = dict(_COMMAND_DEFAULTS.get(command, {}))
  for name, value in values.items():
    if name not in COMMAND_OPTIONS[command]:
      continue
    reader = (_TUNE_READERS if command == "tune" else _READERS).get(name, _READERS[name])
    try:
      if value is None and source == "json":
        if getattr(_DEFAULTS, name) is not None:
          raise ValueError("recorded as null")
        typed[name] = None
      else:
        typed[name] = reader.text(value) if source == "text" else reader.from_json(value)
    except ValueError as error:
      raise UsageError(f"{_option(name)}: {error}") from None
  return Options(**typed)


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
    command: ``sweep``, ``compare``, ``train`` or ``tune``.
    arguments: the command line as given.
    options: the options of the work, defaults filled in.
    given: the options of the work written on the command line.
    sweeps: the sweeps to run, one per optimizer (tune's: its optimizer, each range as its
      two bounds, which are checked as values).
    halving: the halving schedule (rungs resolved), None for a full sweep.
    space: tune's search space, defaults filled in (None for the other commands).
    out, force, resume, compile_cache, no_compile_cache: this run of the command.
  """

  command: str
  arguments: tuple[str, ...]
  options: Options
  given: frozenset[str]
  sweeps: tuple[OptimizerSweep, ...]
  halving: Optional[HalvingRecord]
  space: Optional[Space] = None  # tune's: each hyperparameter's Range or fixed value
  out: Optional[pathlib.Path] = None
  force: bool = False
  resume: bool = False
  compile_cache: Optional[pathlib.Path] = None
  no_compile_cache: bool = False

  @property
  def seeds(self) -> list[int]:
    """The seeds of every setting."""
    return self.options.seed_list

  def value(self, name: str) -> Any:
    """An option's value, a hyperparameter left to its default as the values it stood for
    (None: not used by this command's optimizers)."""
    value = getattr(self.options, name)
    hyperparameter = optimizers.HYPERPARAMETERS.get(name)
    if self.space is not None and hyperparameter is not None and hyperparameter in self.space:
      searched = self.space[hyperparameter]
      return searched if isinstance(searched, Range) else (searched,)
    if value is not None or hyperparameter is None:
      return value
    for sweep in self.sweeps:
      if hyperparameter in sweep.grid:
        return sweep.grid[hyperparameter]
      if sweep.static.get(hyperparameter) is not None:
        return (sweep.static[hyperparameter],)
    return None

  def record(self) -> dict[str, Any]:
    """The options of the work as JSON values (``results.json``'s "options"), each
    hyperparameter left to its default given as the values it stood for."""
    values = {name: self.value(name) for name in COMMAND_OPTIONS[self.command]}
    return {k: _as_json(v) for k, v in values.items()}

  def study_identity(self, model: str) -> dict[str, Any]:
    """What a tuning study is (its user attribute ``indian_optax``): every recorded option,
    ``model`` resolved, but where it is stored and how many trials, batches and which sampler
    a run asks for."""
    identity = self.record() | {"model": model}
    return {k: v for k, v in identity.items() if k not in (*TUNE_RUN_OPTIONS, "storage", "study")}

  def resumed(self, recorded: Metadata, folder: pathlib.Path) -> "Plan":
    """The plan of the interrupted command ``recorded``, which the options given must equal
    as the values they stand for (``--lr 0.1`` equals a recorded default of 0.1).

    Raises:
      UsageError: an option given differs from the recorded one; the record cannot be read
        or run (a hand-edited or damaged ``results.json``); a halving sweep.
    """
    tuning = self.command == "tune"  # a study goes on, halving or not, to as many trials as asked
    per_run = {name for name in TUNE_RUN_OPTIONS if name in self.given} if tuning else set()
    try:
      options = _read(self.command, {**recorded.options, "model": recorded.model}, "json")
      options = dataclasses.replace(options, **{n: getattr(self.options, n) for n in per_run})
      run = {name: getattr(self, name) for name in RUN_OPTIONS}
      previous = _plan(self.command, recorded.arguments, options, frozenset(), **run)
    except UsageError as error:
      culprit = "--out" if tuning and not self.resume else "--resume"
      message = f"{culprit}: {str(folder)!r} records options that cannot run: {error}"
      raise UsageError(message) from None
    if not tuning and (previous.halving is not None or self.halving is not None):
      raise UsageError(
        "--resume: a --halving sweep is not resumed (it saves when it ends): run the command "
        "again without --resume to start it over"
      )
    for name in sorted(self.given - per_run):
      if self.value(name) != previous.value(name):
        then = (
          "its study goes on with the options it was made with (--force replaces the folder's "
          "results and its own study; another --study starts a new one)"
          if tuning
          else "--resume needs the arguments of the interrupted command"
        )
        raise UsageError(
          f"{_option(name)}: {shown(self.value(name))} differs from "
          f"{shown(previous.value(name))} recorded in {str(folder)!r}; {then}"
        )
    return previous


def _plan(
  command: str,
  arguments: Sequence[str],
  options: Options,
  given: frozenset[str],
  **run: Any,
) -> Plan:
  """The checked plan of ``command``: every check that needs neither data nor folder, once.
  ``run``: the options of this run of the command (:data:`RUN_OPTIONS`) that were given."""
  if run.get("force") and run.get("resume"):
    raise UsageError("--force and --resume exclude each other")
  if run.get("resume") and not run.get("out"):
    raise UsageError("--resume: name the folder to continue with --out DIR")
  _check_bounds(options)
  space = _space(options) if command == "tune" else None
  sweeps = tuple(_tune_sweeps(options, space) if space else _SWEEPS[command](options))
  for sweep in sweeps:
    _check_values(sweep)
  _check_options(options, sweeps[0], options.trials if space else sweeps[0].settings)
  halving = _halving(options)
  paths = {k: pathlib.Path(run[k]) for k in ("out", "compile_cache") if run.get(k) is not None}
  return Plan(
    command, tuple(arguments), options, given, sweeps, halving, space=space, **(run | paths)
  )


def _check_bounds(options: Options) -> None:
  """The command's own bounds (the engine has no such limits): the records stay in memory,
  and a chunk is a number of configurations or auto."""
  if options.epochs > _EPOCHS_MAX:
    raise UsageError(f"--epochs: must be <= {_EPOCHS_MAX}, got {options.epochs}")
  if not 1 <= options.seeds <= _SEEDS_MAX:
    raise UsageError(f"--seeds: must be in [1, {_SEEDS_MAX}], got {options.seeds}")
  if options.chunk != "auto" and not (isinstance(options.chunk, int) and options.chunk >= 1):
    raise UsageError(f"--chunk: must be >= 1 or auto, got {options.chunk}")
  for name, high in (("trials", _TRIALS_MAX), ("batch", _TRIALS_MAX)):
    if not 1 <= getattr(options, name) <= high:
      raise UsageError(f"--{name}: must be in [1, {high}], got {getattr(options, name)}")
  if options.sampler not in SAMPLERS:
    raise UsageError(f"--sampler: unknown sampler {options.sampler!r}: use {', '.join(SAMPLERS)}")
  module, extra = _SAMPLER_NEEDS.get(options.sampler, (None, None))
  if module is not None and importlib.util.find_spec(module) is None:
    raise UsageError(f"--sampler {options.sampler}: Optuna's sampler needs the {module} package: "
                     f"pip install 'indian-optax[{extra}]'")  # fmt: skip
  if options.storage is not None:
    _check_storage(options.storage)


def _check_options(options: Options, sweep: OptimizerSweep, settings: int) -> None:
  """The engine's own checks (once, with its messages), the data set's name, the model's."""
  seeds = options.seed_list
  if settings * len(seeds) > _RUNS_MAX:
    raise UsageError(
      f"--seeds: {settings} settings x {len(seeds)} seeds is more than {_RUNS_MAX:,} "
      "runs: split the work"
    )
  try:
    check_arguments(sweep.grid, seeds, options.epochs, options.batch_size, options.select,
                    options.val_fraction, None)  # fmt: skip
  except SweepArgumentError as error:
    raise UsageError(_as_option(error)) from None
  try:
    datasets.check_name(options.dataset)
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  if options.model is not None and options.model not in models.MODELS:
    model = options.model
    raise UsageError(f"--model: unknown model {model!r}: use {' or '.join(models.MODELS)}")


def _as_option(error: SweepArgumentError) -> str:
  """An engine's argument error as the command's one line (its ``seeds`` are --seed's)."""
  if error.argument == "seeds":
    return f"--seed: {error.message} (the seeds are --seed to --seed + --seeds - 1)"
  return f"{_option(error.argument)}: {error.message.removeprefix(error.argument + ' ')}"


def _values(options: Options, name: str, hyperparameter: str, grid: bool) -> tuple:
  """A hyperparameter's values: its option's, else the default grid (a sweep) or value."""
  given = getattr(options, optimizers.OPTION_NAMES[hyperparameter])
  if given is not None:
    return given
  default_grid = optimizers.SWEEP_GRIDS.get(name, {}) if grid else {}
  return tuple(default_grid.get(hyperparameter, [optimizers.default(name, hyperparameter)]))


def _single(options: Options, name: str, hyperparameter: str) -> Any:
  values = _values(options, name, hyperparameter, grid=False)
  if len(values) != 1:
    raise UsageError(f"{_option(hyperparameter)}: give one value, got {len(values)}")
  return values[0]


def _check_swept(options: Options) -> str:
  """The optimizer of a sweep or a tuning (INDIAN or INNAprop) and its sigma's rule."""
  name = options.optimizer
  if name not in optimizers.SWEPT:
    raise UsageError(
      f"--optimizer: {name!r} is not swept here: use {' or '.join(optimizers.SWEPT)}"
    )
  if options.sigma is not None and "sigma" not in optimizers.SWEPT[name]:
    raise UsageError(f"--sigma: only for --optimizer innaprop, not {name}")
  return name


def _sweep_sweeps(options: Options) -> list[OptimizerSweep]:
  name = _check_swept(options)
  grid = {h: _values(options, name, h, grid=True) for h in optimizers.SWEPT[name]}
  return [OptimizerSweep(name, grid, {"weight_decay": _single(options, name, "weight_decay")})]


def _compare_sweeps(options: Options) -> list[OptimizerSweep]:
  names = options.optimizers or tuple(optimizers.FACTORIES)
  unknown = [n for n in names if n not in optimizers.FACTORIES]
  if unknown:
    raise UsageError(
      f"--optimizers: unknown {', '.join(repr(n) for n in unknown)}; "
      f"choose from {', '.join(optimizers.FACTORIES)}"
    )
  lrs = options.lr or tuple(optimizers.COMPARE_LEARNING_RATES)
  grids = [optimizers.default_grid(name) | {"learning_rate": lrs} for name in names]
  return [
    OptimizerSweep(n, {k: tuple(v) for k, v in g.items()}, {})
    for n, g in zip(names, grids, strict=True)
  ]


def _train_sweeps(options: Options) -> list[OptimizerSweep]:
  name = options.optimizer
  if name not in optimizers.FACTORIES:
    raise UsageError(
      f"--optimizer: unknown {name!r}; choose from {', '.join(optimizers.FACTORIES)}"
    )
  if name not in optimizers.SWEPT and (options.alpha is not None or options.beta is not None):
    raise UsageError(f"--alpha/--beta: {name} has no alpha or beta")
  grid = {h: (_single(options, name, h),) for h in optimizers.default_grid(name)}
  return [OptimizerSweep(name, grid, {})]


def _space(options: Options) -> Space:
  """tune's search space: each swept hyperparameter's Range or fixed value (the options',
  else the optimizer's default range), and the weight decay when a range is given for it."""
  name = _check_swept(options)
  space: dict[str, Union[Range, float]] = {}
  names = [*optimizers.SWEPT[name]] + ["weight_decay"] * isinstance(options.weight_decay, Range)
  for hyperparameter in names:
    given = getattr(options, optimizers.OPTION_NAMES[hyperparameter])
    if given is None:
      given = optimizers.TUNE_SPACES[name].get(hyperparameter)
    if given is None:
      given = (optimizers.default(name, hyperparameter),)
    if isinstance(given, Range) and given.problem() is not None:
      raise UsageError(f"{_option(hyperparameter)}: {given.problem()}")
    space[hyperparameter] = given if isinstance(given, Range) else given[0]
  return space


def _tune_sweeps(options: Options, space: Space) -> list[OptimizerSweep]:
  """The optimizer and its ranges' bounds as a grid (each bound checked as a value)."""
  grid = {h: (v.low, v.high) if isinstance(v, Range) else (v,) for h, v in space.items()}
  static = (
    {}
    if "weight_decay" in space
    else {"weight_decay": _single(options, options.optimizer, "weight_decay")}
  )
  return [OptimizerSweep(options.optimizer, grid, static)]


def _check_storage(url: str) -> None:
  """A study storage's address must be readable (whether it opens is known when it is opened)."""
  if url.startswith("journal:") and len(url) > len("journal:"):
    return
  import sqlalchemy  # Optuna's: imported by the commands that open a study only

  try:
    sqlalchemy.engine.make_url(url)
  except sqlalchemy.exc.ArgumentError:
    raise UsageError(
      f"--storage: cannot read {url!r} as a study storage: give sqlite:///FILE, "
      "journal:FILE, postgresql+psycopg2://USER@HOST/DB or mysql+pymysql://..."
    ) from None


_SWEEPS = {
  "sweep": _sweep_sweeps, "compare": _compare_sweeps, "train": _train_sweeps,
}  # fmt: skip
_SAMPLER_NEEDS = {"gp": ("torch", "gp"), "cmaes": ("cmaes", "cmaes")}
"""Sampler -> the module Optuna's sampler imports, and the extra that installs it."""


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


def _halving(options: Options) -> Optional[HalvingRecord]:
  """The halving schedule (None for a full sweep), its rungs resolved and checked."""
  eta, rungs = options.halving, options.rungs
  if eta is None:
    if rungs is not None:
      raise UsageError("--rungs: only with --halving")
    return None
  epochs = options.epochs
  if epochs < 2:  # a rung is an epoch before the last: none exists
    raise UsageError(
      f"--halving: cuts settings after an epoch before the last, and --epochs {epochs} has "
      "none: give --epochs 2 or more, or leave out --halving"
    )
  try:
    chosen = tuple(engine.rung_epochs(epochs, eta, rungs))
  except SweepArgumentError as error:
    raise UsageError(_as_option(error)) from None
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
  add, d = common.add_argument, dataclasses.asdict(_DEFAULTS)
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
  add("--seeds", help=f"seeds per grid point (default: {_DEFAULTS.seeds})")
  add("--halving", help="successive halving: keep the best 1/ETA of the settings at each rung "
      "(e.g. 3; default: train every setting to the end)")  # fmt: skip
  add("--rungs", help="with --halving: comma list of the epochs to cut after "
      "(default: epochs / ETA^k, k = 1, 2 ...)")  # fmt: skip


def _compare_options(add: Callable[..., Any]) -> None:
  add("--optimizers", help=f"comma list (default: {','.join(optimizers.FACTORIES)})")
  lrs = _listed(optimizers.COMPARE_LEARNING_RATES)
  add("--lr", help=f"learning-rate grid tuned for each (default: {lrs})")
  add("--seeds", help=f"seeds per setting (default: {_COMMAND_DEFAULTS['compare']['seeds']})")


def _train_options(add: Callable[..., Any]) -> None:
  add("--optimizer", choices=tuple(optimizers.FACTORIES), help="(default: indian)")
  add("--alpha", help="INDIAN/INNAprop alpha (default: the optimizer's)")
  add("--beta", help="INDIAN/INNAprop beta (default: the optimizer's)")
  lrs = ", ".join(f"{k} {v:g}" for k, v in optimizers.DEFAULT_LEARNING_RATES.items())
  add("--lr", help=f"learning rate (default: {lrs})")


def _tune_options(add: Callable[..., Any]) -> None:
  spaces, default = optimizers.TUNE_SPACES, optimizers.default
  shown = lambda r: f"{r.low:g}:{r.high:g}"
  each = lambda h: ", ".join(f"{n} {shown(space[h])}" for n, space in spaces.items())
  add("--optimizer", choices=tuple(optimizers.SWEPT), help="(default: indian)")
  ranges = "LOW:HIGH (log-uniform), LOW:HIGH:linear, or one value to fix it"
  add("--alpha", help=f"{ranges} (default: {each('alpha')})")
  add("--beta", help=f"{ranges} (default: {each('beta')})")
  add("--lr", help=f"{ranges} (default: {each('learning_rate')})")
  add("--sigma", help=f"innaprop only: {ranges} (default: {default('innaprop', 'sigma'):g})")
  add("--weight-decay", help=f"{ranges} (default: the optimizer's, fixed)")
  add("--trials", help=f"finished trials the study must hold (default: {_DEFAULTS.trials})")
  add("--batch", help="trials asked of Optuna and trained as one program per round "
      f"(default: {_DEFAULTS.batch})")  # fmt: skip
  add("--sampler", choices=SAMPLERS, help="Optuna's sampler: TPE (with constant liar for the "
      "pending trials of a batch), random, Gaussian process (needs PyTorch) or CMA-ES (needs "
      "cmaes); seeded by --seed (default: tpe)")  # fmt: skip
  add("--storage", help="the study database: sqlite:///FILE, journal:FILE, "
      "postgresql+psycopg2://... (default: sqlite:///OUT/study.db); shared by every process "
      "that names it")  # fmt: skip
  add("--study", help=f"the study's name in --storage (default: {_DEFAULTS.study})")
  add("--seeds", help=f"training seeds per trial (default: {_DEFAULTS.seeds})")
  add("--halving", help="successive halving inside each batch: keep the best 1/ETA of its "
      "trials at each rung, the others are pruned (default: every trial to the end)")  # fmt: skip
  add("--rungs", help="with --halving: comma list of the epochs to cut after")


_HELP = {
  "sweep": "alpha x beta (x lr x seed) grid, one vmapped program",
  "compare": "INDIAN and INNAprop against the usual Optax optimizers",
  "train": "one run",
  "tune": "Optuna proposes batches of (alpha, beta, lr), each trained as one vmapped program",
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
                           ("train", _train_options), ("tune", _tune_options)):  # fmt: skip
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
    raise UsageError("choose a command: sweep, compare, train, tune or report (see --help)")
  if command == "report":
    return Report(pathlib.Path(given["folder"]))
  run = {name: given.pop(name) for name in RUN_OPTIONS if name in given}
  return _plan(command, argv, _read(command, given, "text"), frozenset(given), **run)

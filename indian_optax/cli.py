"""``indian-optax``: train, sweep and compare INDIAN/INNAprop on embedded data, with plots.

Every user mistake ends in one line on stderr and exit status 2, never a traceback;
results already in ``--out`` are never overwritten without ``--force``.
"""

import argparse
import csv
import datetime
import io
import json
import math
import os
import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Optional

from indian_optax import baselines

PROG = "indian-optax"
RESULT_FILES = ("results.json", "results.csv")


class UsageError(Exception):
  """A user mistake: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
  def error(self, message: str) -> NoReturn:  # one line, not usage + message
    raise UsageError(message)


# Hyperparameter options: (name in the optimizer, check, what the check demands).
_CHECKS: dict[str, tuple[Callable[[float], bool], str]] = {
  "alpha": (lambda v: v >= 0, ">= 0"),
  "beta": (lambda v: v > 0, "> 0"),
  "lr": (lambda v: v > 0, "> 0"),
  "sigma": (lambda v: 0 <= v < 1, "in [0, 1)"),
  "weight_decay": (lambda v: v >= 0, ">= 0"),
}


def _values(option: str, text: str) -> list[float]:
  """Parses a comma list of finite numbers for ``--option`` and checks their range."""
  check, demand = _CHECKS[option]
  values = []
  for item in text.split(","):
    try:
      value = float(item)
    except ValueError:
      raise UsageError(f"--{option.replace('_', '-')}: {item.strip()!r} is not a number") from None
    if not math.isfinite(value) or not check(value):
      raise UsageError(f"--{option.replace('_', '-')}: must be {demand}, got {item.strip()}")
    values.append(value)
  return values


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
  if value < 1:
    raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
  return value


def _parser() -> argparse.ArgumentParser:
  common = _Parser(add_help=False)
  common.add_argument("--dataset", default="digits", help="digits, mnist1d, or an .npz path")
  common.add_argument("--model", choices=None, help="mlp or cnn (default: by data shape)")
  common.add_argument("--epochs", type=_positive_int, default=15)
  common.add_argument("--batch-size", type=_positive_int, default=64)
  common.add_argument("--seed", type=int, default=0, help="first seed (data order, init)")
  common.add_argument("--out", help="output folder (default: runs/<command>-<time>)")
  common.add_argument("--force", action="store_true", help="overwrite results in --out")

  parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest="command", parser_class=_Parser)

  sweep = commands.add_parser(
    "sweep", parents=[common], help="alpha x beta (x lr x seed) grid, one vmapped program"
  )
  sweep.add_argument("--optimizer", choices=("indian", "innaprop"), default="indian")
  sweep.add_argument("--alpha", help="comma list (default 0.1,0.5,1,2)")
  sweep.add_argument("--beta", help="comma list (indian: 0.01,0.1,0.5,1; innaprop: 0.1,0.5,0.9,2)")
  sweep.add_argument("--lr", help="comma list (indian: 0.1; innaprop: 0.003)")
  sweep.add_argument("--sigma", help="innaprop only: comma list (default 0.999)")
  sweep.add_argument("--weight-decay", help="one value (indian: 0, innaprop: 0.01)")
  sweep.add_argument("--seeds", type=_positive_int, default=1, help="seeds per grid point")
  sweep.add_argument("--chunk", type=_positive_int, help="configurations per compiled program")

  compare = commands.add_parser(
    "compare", parents=[common], help="INDIAN and INNAprop against the usual Optax optimizers"
  )
  compare.add_argument(
    "--optimizers", help="comma list (default: all of " + ", ".join(baselines.FACTORIES) + ")"
  )
  compare.add_argument("--lr", help="learning-rate grid tuned for each (default 1e-3 ... 0.3)")
  compare.add_argument("--seeds", type=_positive_int, default=3)

  train = commands.add_parser("train", parents=[common], help="one configuration")
  train.add_argument("--optimizer", choices=tuple(baselines.FACTORIES), default="indian")
  train.add_argument("--alpha", help="INDIAN/INNAprop alpha")
  train.add_argument("--beta", help="INDIAN/INNAprop beta")
  train.add_argument("--lr", help="learning rate")
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Entry point of the ``indian-optax`` command; returns the exit status."""
  try:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    if args.command is None:
      raise UsageError("choose a command: sweep, compare or train (see --help)")
    return _run(args)
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except ImportError as error:
    print(
      f"{PROG}: error: {error.name or error} is missing: pip install 'indian-optax[app]'",
      file=sys.stderr,
    )
    return 2
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted", file=sys.stderr)
    return 130


def _run(args: argparse.Namespace) -> int:
  out = _output_folder(args)
  from indian_optax import data as datasets
  from indian_optax import models

  try:
    dataset = datasets.load(args.dataset, seed=args.seed)
  except datasets.DataError as error:
    raise UsageError(f"--dataset: {error}") from None
  model_name = args.model or dataset.default_model
  try:
    model = models.make_model(model_name, dataset.sample_shape, dataset.num_classes)
  except ValueError as error:
    raise UsageError(f"--model: {error}") from None
  if args.batch_size > len(dataset.y_train):
    raise UsageError(
      f"--batch-size: {args.batch_size} exceeds the {len(dataset.y_train)} training samples"
    )
  plan = {"sweep": _plan_sweep, "compare": _plan_compare, "train": _plan_train}[args.command](args)
  runs, devices = _execute(plan, args, dataset, model)
  report = {
    "command": args.command,
    "dataset": dataset.name,
    "model": model_name,
    "epochs": args.epochs,
    "batch_size": args.batch_size,
    "seed": args.seed,
    "arguments": args.argv,
    "devices": devices,
    "runs": runs,
  }
  _write(out, report, args)
  _summary(report, out)
  return 0


def _output_folder(args: argparse.Namespace) -> pathlib.Path:
  if args.out:
    out = pathlib.Path(args.out)
  else:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = pathlib.Path("runs") / f"{args.command}-{stamp}"
    suffix = 1
    while out.exists():
      out = pathlib.Path("runs") / f"{args.command}-{stamp}-{suffix}"
      suffix += 1
  if out.exists() and not out.is_dir():
    raise UsageError(f"--out: {str(out)!r} exists and is not a folder")
  existing = [p.name for p in out.glob("*") if p.name in RESULT_FILES or p.suffix == ".png"]
  if existing and not args.force:
    raise UsageError(
      f"--out: {str(out)!r} already holds results ({', '.join(sorted(existing))}); "
      "choose another folder or pass --force"
    )
  return out


# A plan: a list of (optimizer label, factory, grid, fixed hyperparameters to report).
Plan = list[tuple[str, Callable[..., Any], dict[str, list[float]], dict[str, Any]]]


def _grid(args: argparse.Namespace, option: str, default: str) -> list[float]:
  text = getattr(args, option, None)
  return _values(option, default if text is None else text)


def _plan_sweep(args: argparse.Namespace) -> Plan:
  if args.optimizer == "indian":
    if args.sigma is not None:
      raise UsageError("--sigma: only for --optimizer innaprop")
    (weight_decay,) = _single(args, "weight_decay", "0")
    grid = {
      "alpha": _grid(args, "alpha", "0.1,0.5,1,2"),
      "beta": _grid(args, "beta", "0.01,0.1,0.5,1"),
      "learning_rate": _grid(args, "lr", "0.1"),
    }
    return [("indian", _with_weight_decay("indian", weight_decay), grid, {})]
  (weight_decay,) = _single(args, "weight_decay", "0.01")
  grid = {
    "alpha": _grid(args, "alpha", "0.1,0.5,1,2"),
    "beta": _grid(args, "beta", "0.1,0.5,0.9,2"),
    "learning_rate": _grid(args, "lr", "0.003"),
    "sigma": _grid(args, "sigma", "0.999"),
  }
  return [("innaprop", _with_weight_decay("innaprop", weight_decay), grid, {})]


def _with_weight_decay(name: str, weight_decay: float) -> Callable[..., Any]:
  import indian_optax

  if name == "indian":
    return lambda learning_rate, alpha, beta: indian_optax.indian(
      learning_rate, alpha, beta, weight_decay=weight_decay
    )
  return lambda learning_rate, alpha, beta, sigma: indian_optax.innaprop(
    learning_rate, alpha, beta, sigma, weight_decay=weight_decay
  )


def _single(args: argparse.Namespace, option: str, default: str) -> list[float]:
  values = _grid(args, option, default)
  if len(values) != 1:
    raise UsageError(f"--{option.replace('_', '-')}: give one value, got {len(values)}")
  return values


def _plan_compare(args: argparse.Namespace) -> Plan:
  names = list(baselines.FACTORIES) if args.optimizers is None else args.optimizers.split(",")
  unknown = [n for n in names if n not in baselines.FACTORIES]
  if unknown or not names:
    raise UsageError(
      f"--optimizers: unknown {', '.join(repr(n) for n in unknown)}; "
      f"choose from {', '.join(baselines.FACTORIES)}"
    )
  lrs = _grid(args, "lr", "0.001,0.003,0.01,0.03,0.1,0.3")
  return [_one_optimizer(name, {"learning_rate": lrs}) for name in names]


def _plan_train(args: argparse.Namespace) -> Plan:
  lr = _single(args, "lr", str(baselines.DEFAULT_LEARNING_RATES[args.optimizer]))
  grid: dict[str, list[float]] = {"learning_rate": lr}
  if args.optimizer in baselines.INERTIAL:
    alpha, beta = baselines.INERTIAL[args.optimizer]
    grid["alpha"] = _single(args, "alpha", str(alpha))
    grid["beta"] = _single(args, "beta", str(beta))
  elif args.alpha is not None or args.beta is not None:
    raise UsageError(f"--alpha/--beta: {args.optimizer} has no alpha or beta")
  return [_one_optimizer(args.optimizer, grid)]


def _one_optimizer(name: str, grid: dict[str, list[float]]):
  """A plan entry; alpha and beta are reported at the factory's defaults when not swept."""
  fixed = {}
  if name in baselines.INERTIAL and "alpha" not in grid:
    fixed = dict(zip(("alpha", "beta"), baselines.INERTIAL[name], strict=True))
  return (name, baselines.FACTORIES[name], grid, fixed)


def _execute(
  plan: Plan, args: argparse.Namespace, dataset, model
) -> tuple[list[dict[str, Any]], int]:
  """Runs the plan's sweeps; returns the runs and the most devices a sweep used."""
  import indian_optax

  seeds = [args.seed + i for i in range(getattr(args, "seeds", 1))]
  chunk = getattr(args, "chunk", None)
  total = 0
  for _, _, grid, _ in plan:
    configs = math.prod(len(v) for v in grid.values()) * len(seeds)
    total += math.ceil(configs / (chunk or configs)) * args.epochs
  runs, devices = [], 1
  with _progress(total) as bar:
    for name, factory, grid, fixed in plan:

      def on_epoch(chunk_index: int, epoch: int, loss: float, name: str = name) -> None:
        bar.set_description(f"{name} chunk {chunk_index + 1}")
        bar.set_postfix(loss=f"{loss:.4f}")
        bar.update(1)

      result = indian_optax.sweep(
        factory,
        grid,
        init_params=model.init,
        apply_fn=model.apply,
        data=(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seeds=seeds,
        chunk_size=chunk,
        on_epoch=on_epoch,
      )
      devices = max(devices, result.devices)
      for i, config in enumerate(result.configs):
        hyper = dict(fixed, **config)
        runs.append(
          {
            "optimizer": name,
            "alpha": _number(hyper.get("alpha")),
            "beta": _number(hyper.get("beta")),
            "learning_rate": _number(hyper["learning_rate"]),
            "sigma": _number(hyper.get("sigma")),
            "seed": int(config["seed"]),
            "final_test_accuracy": _number(result.final_test_accuracy[i]),
            "final_train_loss": _number(result.final_train_loss[i]),
            "history": {
              "train_loss": [_number(v) for v in result.train_loss[i]],
              "test_accuracy": [_number(v) for v in result.test_accuracy[i]],
            },
          }
        )
  return runs, devices


def _progress(total: int):
  from tqdm.auto import tqdm

  return tqdm(total=total, unit="epoch", file=sys.stderr, dynamic_ncols=True)


def _number(value: Any) -> Optional[float]:
  """A JSON-safe float: None for absent or non-finite values (diverged runs)."""
  if value is None:
    return None
  value = float(value)
  return value if math.isfinite(value) else None


def _ranked(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
  """Runs best first, by the sweep engine's own ranking."""
  return [runs[i] for i in _as_result(runs).ranking()]


def _write(out: pathlib.Path, report: dict[str, Any], args: argparse.Namespace) -> None:
  """Writes results.json, results.csv and the plots, each file atomically."""
  out.mkdir(parents=True, exist_ok=True)
  report["best"] = {k: v for k, v in _ranked(report["runs"])[0].items() if k != "history"}
  _atomic(out / "results.json", json.dumps(report, indent=1, allow_nan=False).encode())
  columns = ["optimizer", "alpha", "beta", "learning_rate", "sigma", "seed"]
  columns += ["final_test_accuracy", "final_train_loss"]
  table = io.StringIO()
  writer = csv.DictWriter(table, columns, extrasaction="ignore", lineterminator="\n")
  writer.writeheader()
  writer.writerows(report["runs"])
  _atomic(out / "results.csv", table.getvalue().encode())
  for name, draw in _figures(report, args).items():
    buffer = out / f".{name}.tmp.png"
    draw(buffer)
    os.replace(buffer, out / name)


def _atomic(path: pathlib.Path, content: bytes) -> None:
  temporary = path.with_name(f".{path.name}.tmp")
  temporary.write_bytes(content)
  os.replace(temporary, path)


def _figures(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Callable]:
  import numpy as np

  from indian_optax import plots

  runs = report["runs"]
  title = f"{report['dataset']}, {report['model']}, {report['epochs']} epochs"
  histories = lambda rs: (  # noqa: E731
    np.array([[np.nan if v is None else v for v in r["history"]["train_loss"]] for r in rs]),
    np.array([[np.nan if v is None else v for v in r["history"]["test_accuracy"]] for r in rs]),
  )
  figures: dict[str, Callable] = {}
  if report["command"] == "sweep":
    result = _as_result(runs)
    for metric, name in (
      ("final_test_accuracy", "heatmap_test_accuracy.png"),
      ("final_train_loss", "heatmap_train_loss.png"),
    ):
      figures[name] = lambda path, metric=metric: plots.heatmap(
        result, path, metric=metric, title=f"{runs[0]['optimizer']}: {metric} ({title})"
      )
    top = _ranked(runs)[:8]
    loss, accuracy = histories(top)
    labels = [f"a={r['alpha']:g} b={r['beta']:g} lr={r['learning_rate']:g}" for r in top]
    figures["curves.png"] = lambda path: plots.curves(
      list(zip(labels, loss, accuracy, strict=True)), path, title=f"best {len(top)} runs, {title}"
    )
  else:
    lines = []
    for name in dict.fromkeys(r["optimizer"] for r in runs):
      best = _best_setting(runs, name)
      loss, accuracy = histories(best)
      label = f"{name} lr={best[0]['learning_rate']:g}"
      lines.append((label, np.nanmean(loss, axis=0), np.nanmean(accuracy, axis=0)))
    figures["curves.png"] = lambda path: plots.curves(
      lines, path, title=f"mean over seeds at each optimizer's best setting, {title}"
    )
  return figures


def _as_result(runs: list[dict[str, Any]]):
  import numpy as np

  from indian_optax import SweepResult

  nan = lambda v: np.nan if v is None else v  # noqa: E731
  configs = [
    {k: r[k] for k in ("alpha", "beta", "learning_rate", "sigma", "seed") if r[k] is not None}
    for r in runs
  ]
  return SweepResult(
    configs=configs,
    train_loss=np.array([[nan(v) for v in r["history"]["train_loss"]] for r in runs]),
    test_accuracy=np.array([[nan(v) for v in r["history"]["test_accuracy"]] for r in runs]),
    final_train_loss=np.array([nan(r["final_train_loss"]) for r in runs]),
    final_test_accuracy=np.array([nan(r["final_test_accuracy"]) for r in runs]),
  )


def _settings(runs: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
  """Runs grouped by optimizer and hyperparameters, the seeds of a setting together."""
  settings: dict[tuple, list[dict[str, Any]]] = {}
  for run in runs:
    key = tuple(run[k] for k in ("optimizer", "alpha", "beta", "learning_rate", "sigma"))
    settings.setdefault(key, []).append(run)
  return settings


def _best_setting(runs: list[dict[str, Any]], optimizer: str) -> list[dict[str, Any]]:
  """The runs (all seeds) of the optimizer's setting with the best mean test accuracy."""
  own = [group for key, group in _settings(runs).items() if key[0] == optimizer]
  return max(own, key=_mean_accuracy)


def _mean_accuracy(runs: list[dict[str, Any]]) -> float:
  values = [r["final_test_accuracy"] for r in runs]
  return -1.0 if any(v is None for v in values) else sum(values) / len(values)


def _mean_loss(runs: list[dict[str, Any]]) -> float:
  values = [r["final_train_loss"] for r in runs]
  return math.inf if any(v is None for v in values) else sum(values) / len(values)


def _summary(report: dict[str, Any], out: pathlib.Path) -> None:
  runs = report["runs"]
  header = f"{'optimizer':<10} {'alpha':>6} {'beta':>6} {'lr':>8} {'seeds':>5} "
  header += f"{'test acc':>9} {'train loss':>11}"
  rows = []
  if report["command"] == "compare":
    names = dict.fromkeys(r["optimizer"] for r in runs)
    groups = [_best_setting(runs, name) for name in names]
  else:
    groups = list(_settings(runs).values())
  groups.sort(key=lambda group: (-_mean_accuracy(group), _mean_loss(group)))
  for group in groups[:12]:
    first = group[0]
    loss = _mean_loss(group)
    loss = "diverged" if math.isinf(loss) else f"{loss:.4g}"
    accuracy = _mean_accuracy(group)
    show = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
    rows.append(
      f"{first['optimizer']:<10} {show(first['alpha']):>6} {show(first['beta']):>6} "
      f"{show(first['learning_rate']):>8} {len(group):>5} "
      f"{'diverged' if accuracy < 0 else f'{accuracy:.4f}':>9} {loss:>11}"
    )
  print(header)
  print("\n".join(rows))
  print(f"results: {out / 'results.json'}")


def entry_point() -> NoReturn:
  """The console script: exits with :func:`main`'s status."""
  sys.exit(main())


if __name__ == "__main__":
  sys.exit(main())

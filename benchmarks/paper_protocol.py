"""INDIAN under its paper's protocol (Castera et al., JMLR 2021, Sec. 5) vs SGD, Adam, Adagrad.

The protocol, as the paper states it and as run here:

* step sizes gamma_k = gamma_0 / sqrt(k + 1), k the epoch, for INDIAN and SGD;
  Adam and Adagrad with their own rule, a constant gamma_0 (their per-coordinate
  scaling is their decay); INDIAN also with the slower decay q = 1/4
  (gamma_0 / (k + 1)^(1/4)), which the paper found helps it;
* gamma_0 tuned for each method by its training loss after 15 epochs (one seed,
  the whole training set: no validation split is held out, as in the paper), on a
  half-decade grid widened automatically until the chosen gamma_0 is interior;
* INDIAN at the paper's four (alpha, beta): (0.1, 0.1), (0.5, 0.1), (0.5, 0.5),
  (0.5, 1) are tuned; the recommended (0.5, 0.1) is run long;
* batch 32; then 5 seeds (initialisation and data order) of each method at its
  chosen gamma_0, for ``--epochs`` epochs; test accuracy after 15 epochs and at the
  end, training loss and test accuracy curves with the seeds' range shaded.

Each setup's section of RESULTS.md is written as soon as it is done.

    python benchmarks/paper_protocol.py            # full size, updates RESULTS.md and figures/
    python benchmarks/paper_protocol.py --quick    # smoke test: digits MLP, a few epochs
"""

import argparse
import dataclasses
import pathlib
import sys
import time
from typing import Optional

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax.app import SweepResult, optimizers, plots, sweep  # noqa: E402

BATCH_SIZE = 32
TUNING_EPOCHS = 15
SEEDS = (0, 1, 2, 3, 4)
SETUPS = {
  "digits-cnn": ("digits", "cnn"),
  "mnist1d-cnn": ("mnist1d", "cnn"),
  "digits-mlp": ("digits", "mlp"),
  "mnist1d-mlp": ("mnist1d", "mlp"),
}


@dataclasses.dataclass(frozen=True)
class Method:
  """One optimizer of the comparison.

  Attributes:
    label: its name in tables, figures and the results.
    optimizer: its factory's name in ``indian_optax.app.optimizers.FACTORIES``.
    fixed: hyperparameters other than the step size.
    power: the decay exponent q of gamma_0 / (epoch + 1)^q, None for a constant.
    learning_rates: the grid its tuning starts from (widened when needed).
    long: whether it is run for the long horizon with 5 seeds.
  """

  label: str
  optimizer: str
  fixed: dict
  power: Optional[float]
  learning_rates: tuple[float, ...]
  long: bool = True

  def factory(self, steps_per_epoch: int):
    """``learning_rate -> GradientTransformation``, the step size decayed once per epoch."""
    build = optimizers.FACTORIES[self.optimizer]

    def make(learning_rate):
      if self.power is not None:
        learning_rate = indian_optax.power_decay(learning_rate, self.power, steps_per_epoch)
      return build(learning_rate, **self.fixed)

    return make


_INERTIAL = tuple(_common.half_decades(-4, 1))  # 0.01 to 3.16
METHODS = (
  Method("INDIAN (0.5, 0.1)", "indian", {"alpha": 0.5, "beta": 0.1}, 0.5, _INERTIAL),
  Method("INDIAN (0.5, 0.1) q=1/4", "indian", {"alpha": 0.5, "beta": 0.1}, 0.25, _INERTIAL),
  Method("SGD", "sgd", {}, 0.5, _INERTIAL),
  Method("Adam", "adam", {}, None, tuple(_common.half_decades(-8, -3))),
  Method("Adagrad", "adagrad", {}, None, tuple(_common.half_decades(-5, 0))),
  Method("INDIAN (0.1, 0.1)", "indian", {"alpha": 0.1, "beta": 0.1}, 0.5, _INERTIAL, False),
  Method("INDIAN (0.5, 0.5)", "indian", {"alpha": 0.5, "beta": 0.5}, 0.5, _INERTIAL, False),
  Method("INDIAN (0.5, 1)", "indian", {"alpha": 0.5, "beta": 1.0}, 0.5, _INERTIAL, False),
)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="smoke test: digits MLP, few epochs")
  parser.add_argument("--results", type=pathlib.Path, help="RESULTS.md to update")
  parser.add_argument(
    "--setups", default=",".join(SETUPS), help="comma list of " + ", ".join(SETUPS)
  )
  parser.add_argument("--epochs", type=int, default=100, help="the long horizon (default 100)")
  args = parser.parse_args(argv)
  setups = ["digits-mlp"] if args.quick else args.setups.split(",")
  plan = dict(tuning_epochs=TUNING_EPOCHS, epochs=args.epochs, seeds=SEEDS, methods=METHODS)
  if args.quick:
    quick_methods = tuple(
      dataclasses.replace(m, learning_rates=m.learning_rates[2:5]) for m in (METHODS[0], METHODS[3])
    )
    plan = dict(tuning_epochs=2, epochs=3, seeds=(0, 1), methods=quick_methods, widen=0)
  results = args.results or _common.RESULTS
  # Figures go next to the RESULTS.md written: a smoke test never overwrites the real ones.
  figures = results.parent / "figures"
  figures.mkdir(parents=True, exist_ok=True)
  for setup in setups:
    body = run_setup(setup, figures=figures, **plan)
    if args.results or not args.quick:
      _common.write_section(f"paper_protocol_{setup.replace('-', '_')}", body, results)
    print(body, flush=True)


def run_setup(setup, *, figures, tuning_epochs, epochs, seeds, methods, widen=4) -> str:
  """Tunes, runs long and reports one setup; returns its RESULTS.md section."""
  dataset_name, model_name = SETUPS[setup]
  inputs = _common.sweep_inputs(dataset_name, model_name)
  steps_per_epoch = len(inputs["data"][0]) // BATCH_SIZE
  common = dict(**inputs, batch_size=BATCH_SIZE, val_fraction=0.0, select="train_loss")
  start = time.perf_counter()
  tuning_rows, chosen = [], {}
  for method in methods:
    make = method.factory(steps_per_epoch)
    run = lambda rates, make=make, label=method.label: sweep(
      make, {"learning_rate": rates}, **common, epochs=tuning_epochs, seeds=(0,), name=label
    )
    result, edge = _common.tune_learning_rate(run, method.learning_rates, widen=widen)
    best = result.ranked_settings()[0]
    chosen[method.label] = best.hyperparameters["learning_rate"]
    tuning_rows.append(
      [
        method.label,
        _decay(method),
        f"{chosen[method.label]:g}",
        f"{best.mean['final_train_loss']:.4g}",
        edge,
      ]
    )
    print(setup, method.label, tuning_rows[-1][2:], flush=True)
  tuned_at = time.perf_counter()
  long = []
  for method in [m for m in methods if m.long]:
    long.append(
      sweep(
        method.factory(steps_per_epoch),
        {"learning_rate": [chosen[method.label]]},
        **common,
        epochs=epochs,
        seeds=seeds,
        name=method.label,
      )
    )
    print(setup, method.label, "long runs done", flush=True)
  result = SweepResult.concatenate(long)
  minutes = ((tuned_at - start) / 60, (time.perf_counter() - tuned_at) / 60)
  figure = f"paper_protocol_{dataset_name}_{model_name}.png"
  plots.curves(
    result,
    result.settings(),
    figures / figure,
    title=f"{setup}: INDIAN paper protocol, batch {BATCH_SIZE}, mean and range of "
    f"{len(seeds)} seeds",
    panels=("train_loss", "test_accuracy"),
    bands=True,
  )
  return _section(setup, result, tuning_rows, tuning_epochs, epochs, seeds, figure, minutes)


def _decay(method: Method) -> str:
  return "constant" if method.power is None else f"gamma_0 / (epoch + 1)^{method.power:g}"


def _section(setup, result, tuning_rows, tuning_epochs, epochs, seeds, figure, minutes) -> str:
  early = min(tuning_epochs, epochs)
  rows, scores = [], {}
  for setting in result.settings():
    runs = list(setting.runs)
    at = lambda epoch, runs=runs: np.asarray(result.test_accuracy)[runs, epoch - 1]
    scores[setting.hyperparameters["optimizer"]] = (at(early), at(epochs))
    rows.append(
      [
        setting.hyperparameters["optimizer"],
        f"{setting.hyperparameters['learning_rate']:g}",
        _mean_std(at(early)),
        _mean_std(at(epochs)),
        f"{setting.mean['final_train_loss']:.3g}",
        str(setting.diverged),
      ]
    )
  interior = all(row[-1].startswith("interior") for row in tuning_rows)
  verdicts = [_verdict(scores, index, when) for index, when in ((0, early), (1, epochs))]
  return (
    f"**{setup}** (`figures/{figure}`): batch {BATCH_SIZE}; gamma_0 of each method tuned by its "
    f"training loss after {tuning_epochs} epochs (seed 0, whole training set); then {len(seeds)} "
    f"seeds for {epochs} epochs. Tuning took {minutes[0]:.1f} min, the long runs {minutes[1]:.1f} "
    f"min. Chosen learning rates: "
    f"{'every one interior to its grid' if interior else 'NOT all interior (see the table)'}.\n\n"
    + _common.markdown_table(
      ["method", "decay", "gamma_0", f"train loss at {tuning_epochs}", "grid"], tuning_rows
    )
    + "\n\n"
    + _common.markdown_table(
      [
        "method",
        "gamma_0",
        f"test accuracy at {early}",
        f"test accuracy at {epochs}",
        f"train loss at {epochs}",
        "diverged runs",
      ],
      rows,
    )  # fmt: skip
    + "\n\n"
    + "\n".join(f"- {line}" for line in verdicts)
  )


def _mean_std(values: np.ndarray) -> str:
  return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _verdict(scores: dict, index: int, epoch: int) -> str:
  """INDIAN's best variant against the best other method, by mean test accuracy at ``epoch``.

  A difference within two standard errors of the difference of the means is a tie.
  """
  mean = {name: float(np.mean(s[index])) for name, s in scores.items()}
  indian = max((n for n in mean if n.startswith("INDIAN")), key=mean.get, default=None)
  other = max((n for n in mean if not n.startswith("INDIAN")), key=mean.get, default=None)
  if indian is None or other is None:
    return f"epoch {epoch}: nothing to compare"
  a, b = scores[indian][index], scores[other][index]
  difference = mean[indian] - mean[other]
  error = _common.two_standard_errors(a, b)
  word = (
    "tie" if abs(difference) <= error else ("INDIAN wins" if difference > 0 else "INDIAN loses")
  )
  return (
    f"test accuracy at epoch {epoch}: {word}: best INDIAN ({indian}) {mean[indian]:.4f} vs best "
    f"other ({other}) {mean[other]:.4f}, difference {difference:+.4f} (two standard errors "
    f"{error:.4f})"
  )


if __name__ == "__main__":
  main()

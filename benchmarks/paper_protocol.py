"""INDIAN under its paper's protocol (Castera et al., JMLR 2021, Sec. 5) vs SGD, Adam, Adagrad.

The protocol, as the paper states it and as run here:

* step sizes gamma_k = gamma_0 / sqrt(k + 1), k the epoch, for INDIAN and SGD;
  Adam and Adagrad with their own rule, a constant gamma_0 (their per-coordinate
  scaling is their decay); INDIAN also with the slower decay q = 1/4
  (gamma_0 / (k + 1)^(1/4)), which the paper found helps it, and, so that no schedule
  is INDIAN's alone, SGD with q = 1/4 and Adam with the decay q = 1/2 too;
* gamma_0 tuned for each method by its training loss after 15 epochs (seed 0, the
  whole training set: no validation split is held out, as in the paper), on one
  half-decade grid shared by every method and widened by the same rule until the
  chosen gamma_0 is interior;
* INDIAN at the paper's four (alpha, beta): (0.1, 0.1), (0.5, 0.1), (0.5, 0.5),
  (0.5, 1), and (0.5, 0.1) with q = 1/4, are tuned. Its headline is the recommended
  (0.5, 0.1), which, like every other method, tunes only gamma_0; the variant the
  paper's rule picks (lowest training loss at 15 epochs, read before any test
  accuracy) is also compared, labelled, its budget five times the others';
* batch 32; then 5 seeds (1 to 5: the tuning seed 0 is never an evaluation seed) of
  each method at its chosen gamma_0, for ``--epochs`` epochs; test accuracy after 15
  epochs and at the end, training loss and test accuracy curves with the seeds' range
  shaded; INDIAN against each other method by the paired rule of ``_common.paired``.

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
TUNING_SEED = 0
SEEDS = (1, 2, 3, 4, 5)
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
    long: whether it is run for the long horizon with 5 seeds (the variant of INDIAN
      the paper's rule picks is run long too).
  """

  label: str
  optimizer: str
  fixed: dict
  power: Optional[float]
  long: bool = True

  def factory(self, steps_per_epoch: int):
    """``learning_rate -> GradientTransformation``, the step size decayed once per epoch."""
    build = optimizers.FACTORIES[self.optimizer]

    def make(learning_rate):
      if self.power is not None:
        learning_rate = indian_optax.power_decay(learning_rate, self.power, steps_per_epoch)
      return build(learning_rate, **self.fixed)

    return make


LEARNING_RATES = tuple(_common.half_decades(-6, 1))  # 0.001 to 3.16, for every method
HEADLINE = "INDIAN (0.5, 0.1)"
METHODS = (
  Method(HEADLINE, "indian", {"alpha": 0.5, "beta": 0.1}, 0.5),
  Method("INDIAN (0.5, 0.1) q=1/4", "indian", {"alpha": 0.5, "beta": 0.1}, 0.25),
  Method("SGD", "sgd", {}, 0.5),
  Method("SGD q=1/4", "sgd", {}, 0.25),
  Method("Adam", "adam", {}, None),
  Method("Adam, decaying", "adam", {}, 0.5),
  Method("Adagrad", "adagrad", {}, None),
  Method("INDIAN (0.1, 0.1)", "indian", {"alpha": 0.1, "beta": 0.1}, 0.5, False),
  Method("INDIAN (0.5, 0.5)", "indian", {"alpha": 0.5, "beta": 0.5}, 0.5, False),
  Method("INDIAN (0.5, 1)", "indian", {"alpha": 0.5, "beta": 1.0}, 0.5, False),
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
  plan = dict(
    tuning_epochs=TUNING_EPOCHS,
    epochs=args.epochs,
    seeds=SEEDS,
    methods=METHODS,
    learning_rates=LEARNING_RATES,
  )
  if args.quick:
    quick = dict(methods=(METHODS[0], METHODS[5], METHODS[7]), learning_rates=LEARNING_RATES[2:5])
    plan = dict(plan, tuning_epochs=2, epochs=3, seeds=(1, 2), widen=0, **quick)
  results = args.results or _common.RESULTS
  # Figures go next to the RESULTS.md written: a smoke test never overwrites the real ones.
  figures = results.parent / "figures"
  figures.mkdir(parents=True, exist_ok=True)
  for setup in setups:
    body, rows = run_setup(setup, figures=figures, **plan)
    if args.results or not args.quick:
      name = f"paper_protocol_{setup.replace('-', '_')}"
      _common.write_section(name, body, results, seeds=rows)
    print(body, flush=True)


def run_setup(
  setup, *, figures, tuning_epochs, epochs, seeds, methods, learning_rates, widen=4
) -> str:
  """Tunes, runs long and reports one setup; returns its RESULTS.md section and per-seed rows."""
  dataset_name, model_name = SETUPS[setup]
  inputs = _common.sweep_inputs(dataset_name, model_name)
  steps_per_epoch = len(inputs["data"][0]) // BATCH_SIZE
  common = dict(**inputs, batch_size=BATCH_SIZE, val_fraction=0.0, select="train_loss")
  start = time.perf_counter()
  tuning_rows, chosen, tuning_loss, interior = [], {}, {}, True
  for method in methods:
    make = method.factory(steps_per_epoch)
    run = lambda rates, make=make, label=method.label: sweep(
      make, {"learning_rate": rates}, **common, epochs=tuning_epochs, seeds=(TUNING_SEED,),
      name=label,
    )  # fmt: skip
    result, edge = _common.tune_learning_rate(run, learning_rates, widen=widen)
    best = result.ranked_settings()[0]
    chosen[method.label] = best.hyperparameters["learning_rate"]
    tuning_loss[method.label] = best.mean["final_train_loss"]
    interior = interior and edge.startswith("interior")
    tuning_rows.append(
      [method.label, _decay(method), f"{chosen[method.label]:g}",
       f"{tuning_loss[method.label]:.4g}", f"{len(result.settings())}: {edge}"]
    )  # fmt: skip
    print(setup, method.label, tuning_rows[-1][2:], flush=True)
  variant = _paper_choice(tuning_loss)
  tuned_at = time.perf_counter()
  long = []
  for method in [m for m in methods if m.long or m.label == variant]:
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
    result, result.settings(), figures / figure, panels=("train_loss", "test_accuracy"),
    title=f"{setup}: INDIAN paper protocol, batch {BATCH_SIZE}, mean and range of "
    f"{len(seeds)} seeds", bands=True,
  )  # fmt: skip
  plan = dict(
    tuning_epochs=tuning_epochs, epochs=epochs, seeds=seeds, variant=variant, interior=interior
  )
  return _section(setup, result, tuning_rows, plan, figure, minutes), _seed_rows(result, plan)


def _seed_rows(result: SweepResult, plan: dict) -> list[dict]:
  """Per (method, seed): the final metrics and the test accuracy at both horizons."""
  early, epochs = min(plan["tuning_epochs"], plan["epochs"]), plan["epochs"]
  rows = _common.seed_rows(result.settings())
  for row in rows:
    for epoch in (early, epochs):
      row[f"test_accuracy_at_{epoch}"] = _at_epoch(result, row["setting"], epoch)[row["seed"]]
  return rows


def _paper_choice(tuning_loss: dict) -> str:
  """The INDIAN variant of lowest training loss at the tuning horizon (the paper's rule)."""
  indian = [label for label in tuning_loss if label.startswith("INDIAN")]
  return min(indian, key=lambda label: np.nan_to_num(tuning_loss[label], nan=np.inf))


def _decay(method: Method) -> str:
  return "constant" if method.power is None else f"gamma_0 / (epoch + 1)^{method.power:g}"


def _at_epoch(result: SweepResult, label: str, epoch: int) -> dict:
  """Seed -> test accuracy after ``epoch`` of the runs of ``label`` (read from its own rows)."""
  runs = result.where(optimizer=label)
  accuracy = np.asarray(runs.test_accuracy)[:, epoch - 1]
  return {
    config["seed"]: float(value) for config, value in zip(runs.configs, accuracy, strict=True)
  }


def _section(setup, result, tuning_rows, plan, figure, minutes) -> str:
  tuning_epochs, epochs, seeds = plan["tuning_epochs"], plan["epochs"], plan["seeds"]
  early = min(tuning_epochs, epochs)
  rows = []
  for setting in result.settings():
    label = setting.hyperparameters["optimizer"]
    at = lambda epoch, label=label: list(_at_epoch(result, label, epoch).values())
    rows.append(
      [label, f"{setting.hyperparameters['learning_rate']:g}", _mean_std(at(early)),
       _mean_std(at(epochs)), f"{setting.mean['final_train_loss']:.3g}", str(setting.diverged)]
    )  # fmt: skip
  variants = sum(row[0].startswith("INDIAN") for row in tuning_rows)
  interior = plan["interior"]
  return (
    f"**{setup}** (`figures/{figure}`): batch {BATCH_SIZE}; gamma_0 of each method tuned by its "
    f"training loss after {tuning_epochs} epochs (seed {TUNING_SEED}, whole training set) on "
    f"one grid for all, widened by one rule; then seeds {list(seeds)} for {epochs} epochs. "
    f"Tuning took {minutes[0]:.1f} min, the long runs {minutes[1]:.1f} min. Chosen learning "
    f"rates: {'every one interior to its grid' if interior else 'NOT all interior (see the table)'}"
    f". The paper's rule (lowest training loss at {tuning_epochs} epochs) picks "
    f"**{plan['variant']}** among the INDIAN variants. Test accuracies: {_common.SD_LABEL}."
    "\n\n"
    + _common.markdown_table(
      [
        "method",
        "decay",
        "gamma_0",
        f"train loss at {tuning_epochs}",
        "configurations tried: grid",
      ],
      tuning_rows,
    )  # fmt: skip
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
    + _verdicts(result, plan["variant"], (early, epochs), variants)
  )


def _mean_std(values) -> str:
  return _common.mean_sd(values)


def _verdicts(result: SweepResult, variant: str, epochs: tuple[int, int], variants: int) -> str:
  """Every INDIAN row run long (the headline, q = 1/4, the paper's pick) against each other
  method, test accuracy - theirs."""
  labels = result.optimizers
  indian = [label for label in labels if label.startswith("INDIAN")]
  others = [label for label in labels if not label.startswith("INDIAN")]
  header = ["INDIAN"] + [f"- {o} at {e}" for e in epochs for o in others]
  rows = []
  for label in indian:
    name = (
      f"{label} (the paper's pick of {variants}: {variants}x the budget)"
      if label == variant
      else label
    )
    cells = [
      _common.paired_values(
        _at_epoch(result, label, e), _at_epoch(result, other, e), "test_accuracy"
      )
      for e in epochs
      for other in others
    ]
    rows.append([name, *map(str, cells)])
  n = len(result.settings()[0].seeds)
  return (
    f"Test accuracy of INDIAN minus each other method's. {_common.rule(n)}\n\n"
    + _common.markdown_table(header, rows)
    + f"\n\n{_common.chance(len(rows) * (len(header) - 1))}"
  )


if __name__ == "__main__":
  main()

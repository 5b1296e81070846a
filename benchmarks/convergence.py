"""What each optimizer reaches: INDIAN and INNAprop against the Optax optimizers people pick.

Digits and MNIST-1D, MLP and CNN, 3 seeds. Every optimizer's learning rate is
tuned on the same grid (INDIAN also over a few alpha, beta); each setting's runs
are one vmapped program (``indian_optax.sweep``). The best setting is picked by
mean final test accuracy over the seeds: the data sets have no separate
validation split, so this is the optimistic, small-scale protocol of the papers'
own comparisons, the same for every optimizer.

    python benchmarks/convergence.py            # updates RESULTS.md and benchmarks/figures/
    python benchmarks/convergence.py --quick    # smoke test: digits MLP, 1 epoch
"""

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax import baselines, data, models, plots  # noqa: E402

LEARNING_RATES = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
INDIAN_GRID = {"alpha": [0.5, 1.0], "beta": [0.1, 0.5]}
OPTIMIZERS = ("indian", "innaprop", "sgd", "momentum", "adam", "adamw", "adagrad")
SETUPS = {
  "digits-mlp": ("digits", "mlp", 15),
  "mnist1d-mlp": ("mnist1d", "mlp", 20),
  "digits-cnn": ("digits", "cnn", 15),
  "mnist1d-cnn": ("mnist1d", "cnn", 20),
}


def best_setting(result: indian_optax.SweepResult) -> tuple[dict, np.ndarray]:
  """The hyperparameters (without seed) with the best mean final test accuracy, and their runs."""
  settings: dict[tuple, list[int]] = {}
  for i, config in enumerate(result.configs):
    key = tuple(sorted((k, v) for k, v in config.items() if k != "seed"))
    settings.setdefault(key, []).append(i)
  mean = lambda rows: np.nan_to_num(np.mean(result.final_test_accuracy[rows]), nan=-1)  # noqa: E731
  key, rows = max(settings.items(), key=lambda item: mean(item[1]))
  return dict(key), np.asarray(rows)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--results", type=pathlib.Path)
  parser.add_argument(
    "--setups", default=",".join(SETUPS), help="comma list of " + ", ".join(SETUPS)
  )
  parser.add_argument("--epochs", type=int, help="override every setup's epochs")
  args = parser.parse_args(argv)
  setups = [("digits", "mlp", 1)] if args.quick else [SETUPS[s] for s in args.setups.split(",")]
  if args.epochs:
    setups = [(dataset, model, args.epochs) for dataset, model, _ in setups]
  seeds = [0] if args.quick else [0, 1, 2]
  lrs = [3e-3, 0.1] if args.quick else LEARNING_RATES
  figures = pathlib.Path(__file__).parent / "figures"
  for dataset_name, model_name, epochs in setups:
    dataset = data.load(dataset_name)
    model = models.make_model(model_name, dataset.sample_shape, dataset.num_classes)
    rows, lines = [], []
    for name in OPTIMIZERS:
      grid = {"learning_rate": lrs}
      if name == "indian" and not args.quick:
        grid |= INDIAN_GRID
      result = indian_optax.sweep(
        baselines.FACTORIES[name],
        grid,
        init_params=model.init,
        apply_fn=model.apply,
        data=(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
        epochs=epochs,
        batch_size=64,
        seeds=seeds,
      )
      setting, runs = best_setting(result)
      accuracy = result.final_test_accuracy[runs]
      loss = result.final_train_loss[runs]
      shown = ", ".join(f"{k}={v:g}" for k, v in setting.items())
      rows.append(
        [
          name,
          shown,
          f"{np.mean(accuracy):.4f} ± {np.std(accuracy):.4f}",
          f"{np.mean(loss):.3g}",
        ]
      )
      lines.append(
        (
          f"{name} ({shown})",
          np.mean(result.train_loss[runs], axis=0),
          np.mean(result.test_accuracy[runs], axis=0),
        )
      )
      print(dataset_name, model_name, *rows[-1], flush=True)
    rows.sort(key=lambda row: -float(row[2].split(" ")[0]))
    title = f"{dataset_name}, {model_name}, {epochs} epochs, mean of {len(seeds)} seeds"
    figure = f"convergence_{dataset_name}_{model_name}.png"
    if not args.quick:
      plots.curves(lines, figures / figure, title=f"best setting of each optimizer: {title}")
    table = _common.markdown_table(
      ["optimizer", "best setting", "final test accuracy", "final train loss"], rows
    )
    body = (
      f"**{title}** (`figures/{figure}`). Learning rates tried by every optimizer: {lrs}; "
      f"INDIAN also alpha x beta {INDIAN_GRID['alpha']} x {INDIAN_GRID['beta']}; INNAprop at its "
      "authors' (0.1, 0.9); batch 64; best setting by mean final test accuracy.\n\n" + table
    )
    # One section per setup, written as soon as it is done: a long run leaves its
    # finished tables behind, and a setup can be rerun on its own (--setups).
    if args.results or not args.quick:
      section = f"convergence_{dataset_name}_{model_name}"
      _common.write_section(section, body, args.results or _common.RESULTS)
    print(body, flush=True)


if __name__ == "__main__":
  main()

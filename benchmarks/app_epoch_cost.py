"""The main job's own epoch on a CPU, with and without XLA's region analysis.

``indian-optax sweep`` trains through :func:`indian_optax.app.engine.compile_sweep`: one
jitted, vmapped epoch (a ``lax.scan`` over the minibatches, then the evaluations). This
script compiles that very program twice per optimizer, once under XLA's default copy
insertion and once with ``xla_cpu_copy_insertion_use_region_analysis`` (the compiler option
that removed INDIAN's state copy in ``step_cost.py``), times epochs of both in interleaved
rounds (medians), and checks that both give the same bits after the timed epochs.

    python benchmarks/app_epoch_cost.py            # updates RESULTS.md
    python benchmarks/app_epoch_cost.py --quick    # smoke test
"""

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

from indian_optax.app import data, engine, models, optimizers, sweeping  # noqa: E402

REGION_ANALYSIS = {"xla_cpu_copy_insertion_use_region_analysis": True}
OPTIMIZERS = ("indian", "innaprop", "momentum", "adamw")
WORKLOADS = (("digits", "mlp", 16), ("mnist1d", "mlp", 16), ("digits", "cnn", 1))
"""(data set, model, configurations per program): what ``chunk_size="auto"`` runs on a CPU."""


def grid(name: str, width: int) -> dict[str, jax.Array]:
  """``width`` configurations of the optimizer: the command's default grid, else learning rates."""
  if name in optimizers.SWEEP_GRIDS:
    points = sweeping.grid_points(optimizers.SWEEP_GRIDS[name], seeds=[0])[:width]
    hyper = {k: [p[k] for p in points] for k in optimizers.SWEEP_GRIDS[name]}
    hyper["learning_rate"] = [optimizers.DEFAULT_LEARNING_RATES[name]] * width
  else:
    hyper = {"learning_rate": np.geomspace(1e-3, 0.3, width).tolist()}
  return {k: jnp.asarray(v, jnp.float32) for k, v in hyper.items()}


def measure(dataset_name: str, model_name: str, width: int, name: str, rounds: int):
  dataset = data.load(dataset_name)
  model = models.make_model(model_name, dataset.sample_shape, dataset.num_classes)
  splits = engine.Splits(*sweeping.validation_split(dataset.x_train, dataset.y_train, 0.1),
                         dataset.x_test, dataset.y_test)  # fmt: skip
  placement = engine.Placement.on(jax.devices()[:1])
  batches = len(splits.y_train) // 64
  hyper, seeds = grid(name, width), jnp.arange(width, dtype=jnp.uint32)
  programs = {
    label: engine.compile_sweep(optimizers.FACTORIES[name], model.init, model.apply,
                                sweeping.softmax_cross_entropy, 64, batches, placement, options)
    for label, options in (("default", None), ("region analysis", REGION_ANALYSIS))
  }  # fmt: skip
  carries = {label: program.start(hyper, seeds) for label, program in programs.items()}

  def epoch(label):
    def run():
      carries[label], record, _ = programs[label].epoch(hyper, carries[label], *splits)
      return record

    return run

  medians = _common.interleaved_medians({label: epoch(label) for label in programs}, rounds)
  leaves = {label: jax.tree.leaves(carry[:2]) for label, carry in carries.items()}
  same = all(
    np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    for a, b in zip(leaves["default"], leaves["region analysis"], strict=True)
  )
  return medians["default"], medians["region analysis"], same


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true", help="one workload, 2 rounds")
  parser.add_argument("--results", type=pathlib.Path, help="write the section here")
  args = parser.parse_args(argv)
  rows = []
  for workload in WORKLOADS[:1] if args.quick else WORKLOADS:
    for name in OPTIMIZERS[:1] if args.quick else OPTIMIZERS:
      default, region, same = measure(*workload, name, rounds=2 if args.quick else 15)
      where = f"{workload[0]} {workload[1]} x{workload[2]}"
      times = [f"{1e3 * default:.1f}", f"{1e3 * region:.1f}", f"{default / region:.2f}"]
      rows.append([where, name, *times, "yes" if same else "NO"])
      print(" | ".join(rows[-1]), flush=True)
  header = ["workload (configs per program)", "optimizer", "default: ms per epoch",
            "region analysis: ms per epoch", "speed-up", "same bits"]  # fmt: skip
  body = (
    "The command's own epoch program (engine.compile_sweep), compiled with XLA's default copy "
    "insertion and with region analysis; medians of 15 interleaved epochs (2 warm-up), "
    "batch 64; 'same bits': params and state equal after all of them.\n\n"
    + _common.markdown_table(header, rows)
  )
  if args.results or not args.quick:
    _common.write_section("app_epoch_cost", body, args.results or _common.RESULTS)
  print(body)


if __name__ == "__main__":
  main()

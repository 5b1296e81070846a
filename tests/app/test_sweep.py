"""The sweep engine, against an oracle outside itself: a hand-written lax.scan training loop."""

import dataclasses
import importlib
import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracle import hand_written_run

import indian_optax
from indian_optax import app
from indian_optax.app import _program

SWEEP_MODULE = importlib.import_module("indian_optax.app.sweep")  # app.sweep is the function


def problem(dtype=np.float32, samples=200):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(samples, 5)).astype(dtype)
  y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32) + 2 * (x[:, 2] > 0.5)

  def init(key):
    k1, k2 = jax.random.split(key)
    return {
      "w1": 0.5 * jax.random.normal(k1, (5, 16), dtype),
      "w2": 0.5 * jax.random.normal(k2, (16, 4), dtype),
    }

  def apply(params, x):
    return jnp.tanh(x @ params["w1"]) @ params["w2"]

  split = int(0.75 * samples)
  return dict(init_params=init, apply_fn=apply, data=(x[:split], y[:split], x[split:], y[split:]))


def indian(alpha, beta, learning_rate):
  return indian_optax.indian(learning_rate, alpha, beta)


# No value is 0.1 (a mutation fixing a hyperparameter at a default must show), and alpha
# never equals the learning rate (a mutation swapping them must show).
GRID = {"alpha": [0.3, 1.0], "beta": [0.2, 0.7], "learning_rate": [0.05, 0.2]}


def assert_run_matches(result, i, oracle, val_size):
  history, final_loss = oracle
  np.testing.assert_allclose(result.train_loss[i], history["train_loss"], rtol=2e-5)
  np.testing.assert_allclose(result.final_train_loss[i], final_loss, rtol=2e-5)
  # An accuracy may move by one sample where float32 rounding flips an argmax.
  np.testing.assert_allclose(result.val_accuracy[i], history["val_accuracy"], atol=1.01 / val_size)
  np.testing.assert_allclose(result.test_accuracy[i], history["test_accuracy"], atol=0.02)
  np.testing.assert_allclose(result.val_loss[i], history["val_loss"], rtol=2e-5)
  np.testing.assert_allclose(result.test_loss[i], history["test_loss"], rtol=2e-5)


def test_every_row_of_a_sweep_equals_a_hand_written_training_loop():
  setup = problem()
  result = app.sweep(indian, GRID, epochs=3, batch_size=32, seeds=[0, 7], **setup)
  assert len(result.configs) == 16
  val_size = len(app.validation_split(*setup["data"][:2], 0.1)[3])
  # Four runs that differ in every hyperparameter and in the seed.
  for i in (0, 6, 9, 15):
    oracle = hand_written_run(result.configs[i], setup, epochs=3, batch_size=32)
    assert_run_matches(result, i, oracle, val_size)


@pytest.mark.parametrize("name", list(GRID))
def test_changing_one_grid_value_changes_that_runs_results(name):
  setup = problem()
  grid = {k: v[:1] for k, v in GRID.items()} | {name: GRID[name]}
  result = app.sweep(indian, grid, epochs=2, batch_size=32, **setup)
  assert [c[name] for c in result.configs] == GRID[name]
  assert not np.allclose(result.train_loss[0], result.train_loss[1], rtol=1e-4)


def test_chunks_give_the_same_results_as_one_program(float64):
  setup = problem(np.float64)
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, **setup)
  reports = []
  chunked = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=3,
                      on_epoch=reports.append, **setup)  # fmt: skip
  assert [(r.chunk, r.epoch) for r in reports] == [(c, e) for c in range(3) for e in range(2)]
  assert {r.chunks for r in reports} == {3} and {r.runs for r in reports} == {8}
  assert chunked.configs == whole.configs
  np.testing.assert_allclose(chunked.final_train_loss, whole.final_train_loss, rtol=1e-10)


def test_a_resumed_sweep_equals_the_uninterrupted_one():
  setup = problem()
  partials = []
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=3,
                    on_chunk=partials.append, **setup)  # fmt: skip
  assert [len(p.configs) for p in partials] == [3, 6, 8]
  assert [p.complete for p in partials] == [False, False, True]
  resumed_chunks = []
  resumed = app.sweep(
    indian, GRID, epochs=2, batch_size=32, chunk_size=3, resume_from=partials[0],
    on_epoch=resumed_chunks.append, **setup,
  )  # fmt: skip
  assert {r.chunk for r in resumed_chunks} == {1, 2}, "the saved chunk is not trained again"
  for field in ("train_loss", "val_accuracy", "test_accuracy", "final_train_loss"):
    np.testing.assert_array_equal(getattr(resumed, field), getattr(whole, field))
  with pytest.raises(ValueError, match="does not hold whole chunks of this sweep"):
    app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=4, resume_from=partials[0], **setup)


def test_same_seed_same_numbers_and_seeds_matter():
  setup = problem()
  first = app.sweep(indian, GRID, epochs=2, batch_size=32, seeds=[0, 1], **setup)
  again = app.sweep(indian, GRID, epochs=2, batch_size=32, seeds=[0, 1], **setup)
  np.testing.assert_array_equal(first.train_loss, again.train_loss)
  assert not np.array_equal(first.train_loss[0], first.train_loss[1])


def test_a_diverging_learning_rate_is_an_outcome_not_a_chance_level_score():
  setup = problem()
  grid = {"alpha": [0.3], "beta": [0.2], "learning_rate": [0.05, 0.2, 1e4]}
  reports = []
  result = app.sweep(indian, grid, epochs=3, batch_size=32, seeds=[0, 1],
                     on_epoch=reports.append, **setup)  # fmt: skip
  diverged = [i for i, c in enumerate(result.configs) if c["learning_rate"] == 1e4]
  for i in range(len(result.configs)):
    if i in diverged:
      epoch = result.diverged_at[i]
      assert epoch is not None
      for metrics in (result.train_loss, result.val_accuracy, result.test_accuracy):
        assert np.all(np.isnan(metrics[i][epoch - 1 :]))
        assert np.all(np.isfinite(metrics[i][: epoch - 1]))
      assert np.isnan(result.final_test_accuracy[i]) and np.isnan(result.final_train_loss[i])
    else:
      assert result.diverged_at[i] is None and np.all(np.isfinite(result.train_loss[i]))
  assert sorted(result.ranking()[-2:]) == diverged
  assert result.best()["learning_rate"] != 1e4
  assert result.ranked_settings()[-1].diverged == 2
  assert reports[-1].diverged == 2 and math.isfinite(reports[-1].live_loss)


def test_the_test_labels_are_never_read_to_choose():
  setup = problem()
  x_train, y_train, x_test, y_test = setup["data"]
  shuffled = np.random.default_rng(1).permutation(y_test)
  setup_shuffled = dict(setup, data=(x_train, y_train, x_test, shuffled))
  grid = {"alpha": [0.3, 1.0], "beta": [0.2, 0.7], "learning_rate": [0.02, 0.2]}
  for select in ("val_accuracy", "train_loss"):
    result = app.sweep(indian, grid, epochs=2, batch_size=32, select=select, **setup)
    other = app.sweep(indian, grid, epochs=2, batch_size=32, select=select, **setup_shuffled)
    assert not np.array_equal(result.test_accuracy, other.test_accuracy)
    assert result.ranking() == other.ranking()
    chosen = {k: v for k, v in result.best().items() if not k.startswith("final_test")}
    assert chosen == {k: v for k, v in other.best().items() if not k.startswith("final_test")}


def test_train_loss_selection_ranks_by_the_final_training_loss():
  setup = problem()
  result = app.sweep(indian, GRID, epochs=2, batch_size=32, select="train_loss", **setup)
  losses = [result.final_train_loss[i] for i in result.ranking()]
  assert losses == sorted(losses)
  assert result.best()["final_train_loss"] == min(result.final_train_loss)


def test_a_validation_set_of_its_own_holds_nothing_out_and_matches_the_oracle():
  setup = problem()
  x, y, x_test, y_test = setup["data"]
  validation = (x_test[:20], y_test[:20])
  result = app.sweep(
    indian, GRID, epochs=2, batch_size=32, validation=validation, select="val_loss", **setup
  )
  for i in (0, 5):
    oracle = hand_written_run(
      result.configs[i], setup, epochs=2, batch_size=32, validation=validation
    )
    assert_run_matches(result, i, oracle, val_size=20)
  losses = [result.final_val_loss[i] for i in result.ranking()]
  assert losses == sorted(losses)


def test_held_out_sets_are_evaluated_in_blocks_with_the_same_numbers(monkeypatch, float64):
  """Blocks bound the memory of evaluation; 7 divides none of the sets, so a remainder shows."""
  setup = problem(np.float64)
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, **setup)
  monkeypatch.setattr(_program, "EVAL_BLOCK", 7)
  blocks = app.sweep(indian, GRID, epochs=2, batch_size=32, **setup)
  for name in ("val_loss", "test_loss", "val_accuracy", "test_accuracy", "final_train_loss"):
    np.testing.assert_allclose(getattr(blocks, name), getattr(whole, name), rtol=1e-12)


def test_no_validation_split_leaves_validation_metrics_unknown():
  setup = problem()
  flat = lambda params, x: setup["apply_fn"](params, x.reshape(x.shape[0], -1))
  result = app.sweep(indian, GRID, epochs=1, batch_size=32, val_fraction=0.0,
                     select="train_loss", **(setup | {"apply_fn": flat}))  # fmt: skip
  assert np.all(np.isnan(result.val_accuracy)) and np.all(np.isnan(result.val_loss))
  assert np.all(np.isfinite(result.test_loss))


def test_the_validation_split_is_seeded_stratified_and_disjoint():
  y = np.repeat(np.arange(4), [100, 50, 30, 20])
  x = np.arange(len(y))
  x_train, y_train, x_val, y_val = app.validation_split(x, y, 0.1, seed=3)
  assert sorted(np.concatenate([x_train, x_val])) == list(x)
  assert list(np.bincount(y_val)) == [10, 5, 3, 2]
  again = app.validation_split(x, y, 0.1, seed=3)[2]
  np.testing.assert_array_equal(x_val, again)
  assert not np.array_equal(x_val, app.validation_split(x, y, 0.1, seed=4)[2])
  assert len(app.validation_split(x, y, 0.0)[2]) == 0


def test_grid_points_vary_seeds_fastest():
  points = app.grid_points({"alpha": [1, 2], "beta": [3]}, [0, 5])
  assert points == [
    {"alpha": 1, "beta": 3, "seed": 0},
    {"alpha": 1, "beta": 3, "seed": 5},
    {"alpha": 2, "beta": 3, "seed": 0},
    {"alpha": 2, "beta": 3, "seed": 5},
  ]


def test_the_top_level_names_lead_to_the_app():
  assert indian_optax.sweep is app.sweep and indian_optax.SweepResult is app.SweepResult


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(grid={}), "the grid is empty"),
    (dict(grid={"alpha": []}), "no values for 'alpha'"),
    (dict(epochs=0), "epochs and batch_size must be >= 1"),
    (dict(batch_size=1000), "batch_size 1000 exceeds the 135 training samples"),
    (dict(seeds=[]), "seeds is empty"),
    (dict(seeds=[-1]), r"seeds must be integers in \[0, 2\*\*32\), got -1"),
    (dict(seeds=[2**32]), "seeds must be integers"),
    (dict(seeds=[1, 1]), "seeds must be distinct"),
    (dict(select="test_accuracy"), "select must be one of val_accuracy, train_loss, val_loss"),
    (dict(val_fraction=1.0), r"val_fraction must be in \[0, 1\)"),
    (dict(val_fraction=0.0), "select='val_accuracy' needs a validation split"),
    (dict(val_fraction=0.0, select="val_loss"), "select='val_loss' needs a validation split"),
    (dict(val_fraction=0.2, validation=(np.zeros((4, 5)), np.zeros(4))), "not both"),
    (dict(validation=(np.zeros((4, 5)), np.zeros(3))), "validation has 4 inputs but 3 labels"),
  ],
)
def test_bad_sweep_arguments(kwargs, message):
  arguments = dict(grid=GRID, epochs=1, batch_size=32, **problem()) | kwargs
  with pytest.raises(ValueError, match=message):
    app.sweep(indian, **arguments)


def test_results_with_another_number_of_rows_are_refused():
  result = app.sweep(lambda alpha: indian_optax.indian(0.1, alpha), {"alpha": [0.3]}, epochs=1,
                     batch_size=32, **problem())  # fmt: skip
  with pytest.raises(ValueError, match="one row per run"):
    dataclasses.replace(result, diverged_at=[None, None])


def test_auto_chunks_vmap_small_models_and_loop_compute_bound_ones_on_a_cpu():
  cpu = jax.devices("cpu")  # the rule is the CPU's, whatever the default backend here
  small = problem()["init_params"]  # 5-16-4: overhead-bound, one vmapped program
  assert app.auto_chunk_size(small, 32, 16, cpu) == 16
  big = lambda key: {"w": jax.random.normal(key, (1000, 1000))}  # 1e6 params x 32
  assert app.auto_chunk_size(big, 32, 16, cpu) == 1


def test_auto_chunking_on_an_accelerator_runs_every_configuration_in_one_program():
  accelerator = [types.SimpleNamespace(platform="gpu")]
  big = lambda key: {"w": jax.random.normal(key, (1000, 1000))}
  assert app.auto_chunk_size(big, 32, 16, accelerator) == 16


def test_auto_chunking_gives_the_results_of_one_program(float64, monkeypatch):
  """With auto choosing one configuration per program, the runs equal one vmapped program."""
  monkeypatch.setattr(SWEEP_MODULE, "AUTO_CPU_WORK", 0)  # every model is compute-bound
  setup, cpu = problem(np.float64), jax.devices("cpu")
  assert app.auto_chunk_size(setup["init_params"], 32, 4, cpu) == 1
  auto = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size="auto", devices=cpu, **setup)
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=None, devices=cpu, **setup)
  np.testing.assert_allclose(auto.final_train_loss, whole.final_train_loss, rtol=1e-10)
  with pytest.raises(ValueError, match="chunk_size must be an integer, None or 'auto'"):
    app.sweep(indian, GRID, epochs=1, batch_size=32, chunk_size="big", **setup)

"""The public sweep engine: vmapped runs equal per-configuration runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import indian_optax


def problem(dtype):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(200, 5)).astype(dtype)
  y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32)

  def init(key):
    k1, k2 = jax.random.split(key)
    return {
      "w1": 0.5 * jax.random.normal(k1, (5, 16), dtype),
      "w2": 0.5 * jax.random.normal(k2, (16, 2), dtype),
    }

  def apply(params, x):
    return jnp.tanh(x @ params["w1"]) @ params["w2"]

  return dict(init_params=init, apply_fn=apply, data=(x[:150], y[:150], x[150:], y[150:]))


def indian(alpha, beta, learning_rate):
  return indian_optax.indian(learning_rate, alpha, beta)


GRID = {"alpha": [0.1, 1.0], "beta": [0.1, 0.5], "learning_rate": [0.05, 0.2]}


def test_vmapped_sweep_equals_per_configuration_runs(float64):
  setup = problem(np.float64)
  result = indian_optax.sweep(indian, GRID, epochs=3, batch_size=32, seeds=[0, 7], **setup)
  assert len(result.configs) == 16
  # Four runs that differ in every hyperparameter and seed (each solo run compiles anew).
  for i in (0, 6, 9, 15):
    config = result.configs[i]
    single = {k: [v] for k, v in config.items() if k != "seed"}
    alone = indian_optax.sweep(
      indian, single, epochs=3, batch_size=32, seeds=[config["seed"]], **setup
    )
    np.testing.assert_allclose(result.train_loss[i], alone.train_loss[0], rtol=1e-10)
    np.testing.assert_allclose(result.final_train_loss[i], alone.final_train_loss[0], rtol=1e-10)
    np.testing.assert_array_equal(result.test_accuracy[i], alone.test_accuracy[0])


def test_chunks_give_the_same_results_as_one_program(float64):
  setup = problem(np.float64)
  whole = indian_optax.sweep(indian, GRID, epochs=2, batch_size=32, **setup)
  chunks = []
  chunked = indian_optax.sweep(
      indian, GRID, epochs=2, batch_size=32, chunk_size=3,
      on_epoch=lambda chunk, epoch, loss: chunks.append((chunk, epoch)), **setup,
  )  # fmt: skip
  assert chunks == [(c, e) for c in range(3) for e in range(2)]
  assert chunked.configs == whole.configs
  np.testing.assert_allclose(chunked.final_train_loss, whole.final_train_loss, rtol=1e-10)


def test_same_seed_same_numbers_and_seeds_matter():
  setup = problem(np.float32)
  first = indian_optax.sweep(indian, GRID, epochs=2, batch_size=32, seeds=[0, 1], **setup)
  again = indian_optax.sweep(indian, GRID, epochs=2, batch_size=32, seeds=[0, 1], **setup)
  np.testing.assert_array_equal(first.train_loss, again.train_loss)
  assert not np.array_equal(first.train_loss[0], first.train_loss[1])


def test_grid_points_vary_seeds_fastest():
  points = indian_optax.grid_points({"alpha": [1, 2], "beta": [3]}, [0, 5])
  assert points == [
    {"alpha": 1, "beta": 3, "seed": 0},
    {"alpha": 1, "beta": 3, "seed": 5},
    {"alpha": 2, "beta": 3, "seed": 0},
    {"alpha": 2, "beta": 3, "seed": 5},
  ]


def test_ranking_puts_diverged_runs_last():
  result = indian_optax.SweepResult(
    configs=[{"alpha": 0.0}, {"alpha": 1.0}, {"alpha": 2.0}],
    train_loss=np.zeros((3, 1)),
    test_accuracy=np.array([[0.5], [np.nan], [0.9]]),
    final_train_loss=np.array([0.1, np.nan, 0.2]),
    final_test_accuracy=np.array([0.5, np.nan, 0.9]),
  )
  assert result.ranking() == [2, 0, 1]
  assert result.best()["alpha"] == 2.0


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(grid={}), "the grid is empty"),
    (dict(grid={"alpha": []}), "no values for 'alpha'"),
    (dict(epochs=0), "epochs and batch_size must be >= 1"),
    (dict(batch_size=1000), "batch_size 1000 exceeds the 150 training samples"),
  ],
)
def test_bad_sweep_arguments(kwargs, message):
  arguments = dict(grid=GRID, epochs=1, batch_size=32, **problem(np.float32)) | kwargs
  with pytest.raises(ValueError, match=message):
    indian_optax.sweep(indian, **arguments)

"""A tiny classification problem, INDIAN as a sweep factory and hand-made results: what the
app's tests share (their fixtures are in ``tests/app/conftest.py``)."""

import jax
import jax.numpy as jnp
import numpy as np

import indian_optax
from indian_optax.app import SweepResult

GRID = {"alpha": [0.3, 1.0], "beta": [0.2, 0.7], "learning_rate": [0.05, 0.2]}
"""No value is 0.1 (a mutation fixing a hyperparameter at a default must show), and alpha
never equals the learning rate (a mutation swapping them must show)."""


def tiny_problem(dtype=np.float32, samples=200):
  """``init_params``, ``apply_fn`` and ``data`` of a 5-16-4 tanh network on 4 classes."""
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


def indian_factory(alpha, beta, learning_rate):
  return indian_optax.indian(learning_rate, alpha, beta)


def hand_made(configs, final_val, final_loss, diverged_at=None, selection="val_accuracy", **kw):
  """A 2-epoch result whose last epoch holds the given validation accuracies and losses."""
  runs = len(configs)
  val = np.array([[0.1, v] for v in final_val], dtype=float).reshape(runs, 2)
  fields = dict(
    configs=configs, epochs=2,
    train_loss=np.array([[2.0, v] for v in final_loss], dtype=float).reshape(runs, 2),
    val_accuracy=val, test_accuracy=np.where(np.isnan(val), np.nan, 0.5),
    val_loss=np.full((runs, 2), np.nan), test_loss=np.full((runs, 2), np.nan),
    final_train_loss=np.array(final_loss, dtype=float),
    diverged_at=diverged_at or [None] * runs, epochs_trained=np.full(runs, 2),
    selection=selection,
  )  # fmt: skip
  return SweepResult(**(fields | kw))

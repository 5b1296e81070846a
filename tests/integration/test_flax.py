"""INDIAN and INNAprop in Flax NNX and Linen training code, and checkpoint round trips."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax import linen, nnx, serialization
from flax.training import train_state
from sklearn.datasets import load_digits

import indian_optax

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training


def digits(seed=0):
  images, labels = load_digits(return_X_y=True)
  order = np.random.default_rng(seed).permutation(len(labels))
  images = (images[order] / 16.0).astype(np.float32)
  labels = labels[order].astype(np.int32)
  split = int(0.8 * len(labels))
  return (images[:split], labels[:split]), (images[split:], labels[split:])


class MLP(nnx.Module):
  def __init__(self, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(64, 128, rngs=rngs)
    self.out = nnx.Linear(128, 10, rngs=rngs)

  def __call__(self, x):
    return self.out(jax.nn.relu(self.hidden(x)))


def cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@pytest.mark.parametrize(
  "tx",
  [indian_optax.indian(0.1, alpha=0.5, beta=0.1), indian_optax.innaprop(3e-3)],
  ids=["indian", "innaprop"],
)
def test_nnx_model_learns_digits(tx):
  (x_train, y_train), (x_test, y_test) = digits()
  model = MLP(nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(lambda m: cross_entropy(m(x), y))(model)
    optimizer.update(model, grads)
    return loss

  batches = np.random.default_rng(0)
  for _ in range(15):
    order = batches.permutation(len(y_train))
    for start in range(0, len(order) - 63, 64):
      batch = order[start : start + 64]
      train_step(model, optimizer, x_train[batch], y_train[batch])

  accuracy = float(jnp.mean(jnp.argmax(model(x_test), axis=-1) == y_test))
  assert accuracy >= 0.95


class LinenMLP(linen.Module):
  @linen.compact
  def __call__(self, x):
    return linen.Dense(10)(jax.nn.relu(linen.Dense(64)(x)))


def linen_setup(tx):
  (x_train, y_train), _ = digits()
  model = LinenMLP()
  params = model.init(jax.random.PRNGKey(0), x_train[:1])["params"]
  state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)

  @jax.jit
  def train_step(state, x, y):
    loss_fn = lambda p: cross_entropy(state.apply_fn({"params": p}, x), y)
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss

  batches = [(x_train[i : i + 128], y_train[i : i + 128]) for i in range(0, 1280, 128)]
  return state, train_step, batches


def test_linen_train_state_matches_a_plain_optax_loop():
  tx = indian_optax.indian(0.1, alpha=0.5, beta=0.1, weight_decay=1e-4)
  state, train_step, batches = linen_setup(tx)
  params, opt_state = state.params, tx.init(state.params)
  losses = []
  for x, y in batches:
    state, loss = train_step(state, x, y)
    losses.append(float(loss))
    grads = jax.grad(lambda p, x=x, y=y: cross_entropy(LinenMLP().apply({"params": p}, x), y))(
      params
    )
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
  chex.assert_trees_all_close(state.params, params, rtol=1e-5, atol=1e-6)
  assert losses[-1] < losses[0]


def continue_training(state, train_step, batches):
  for x, y in batches:
    state, _ = train_step(state, x, y)
  return state


@pytest.mark.parametrize(
  "tx",
  [indian_optax.indian(0.1, initial_speed=1.0), indian_optax.innaprop(1e-3)],
  ids=["indian", "innaprop"],
)
def test_flax_serialization_round_trip_continues_bit_identically(tx):
  state, train_step, batches = linen_setup(tx)
  state = continue_training(state, train_step, batches[:5])
  restored = serialization.from_bytes(state, serialization.to_bytes(state))
  expected = continue_training(state, train_step, batches[5:])
  got = continue_training(restored, train_step, batches[5:])
  chex.assert_trees_all_equal(got.params, expected.params)
  chex.assert_trees_all_equal(got.opt_state, expected.opt_state)


@pytest.mark.parametrize(
  "tx",
  [indian_optax.indian(0.1, initial_speed=1.0), indian_optax.innaprop(1e-3)],
  ids=["indian", "innaprop"],
)
def test_orbax_round_trip_continues_bit_identically(tx, tmp_path):
  state, train_step, batches = linen_setup(tx)
  state = continue_training(state, train_step, batches[:5])
  pytree = {"params": state.params, "opt_state": state.opt_state, "step": state.step}
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp_path / "checkpoint", pytree)
    checkpointer.wait_until_finished()
    loaded = checkpointer.restore(tmp_path / "checkpoint", pytree)
  restored = state.replace(**loaded)
  expected = continue_training(state, train_step, batches[5:])
  got = continue_training(restored, train_step, batches[5:])
  chex.assert_trees_all_equal(got.params, expected.params)
  chex.assert_trees_all_equal(got.opt_state, expected.opt_state)

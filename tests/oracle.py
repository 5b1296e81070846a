"""The oracle of the sweep engine and the CLI: one training run, written by hand.

It follows the contract :func:`indian_optax.app.sweep` documents (keys, minibatch
order, validation split) and shares no code with the engine but the public split.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import indian_optax
from indian_optax import app


def hand_written_run(
  config, setup, *, epochs, batch_size, val_fraction=0.1, split_seed=0, validation=None
):
  """One run exactly as the sweep documents it, with no code of the engine but the split."""
  x, y, x_test, y_test = setup["data"]
  if validation is None:
    x, y, x_val, y_val = app.validation_split(x, y, val_fraction, seed=split_seed)
  else:
    x_val, y_val = validation
  x, y = jnp.asarray(x), jnp.asarray(y)
  init, apply = setup["init_params"], setup["apply_fn"]
  tx = indian_optax.indian(config["learning_rate"], config["alpha"], config["beta"])
  params_key, key = jax.random.split(jax.random.PRNGKey(config["seed"]))
  params = init(params_key)
  state = tx.init(params)
  batches = len(y) // batch_size

  def loss(params, indices):
    logits = apply(params, x[indices])
    return optax.softmax_cross_entropy_with_integer_labels(logits, y[indices]).mean()

  def step(carry, indices):
    params, state = carry
    value, grads = jax.value_and_grad(loss)(params, indices)
    updates, state = tx.update(grads, state, params)
    return (optax.apply_updates(params, updates), state), value

  accuracy = lambda p, xs, ys: float(np.mean(np.argmax(apply(p, xs), -1) == ys))
  mean_loss = lambda p, xs, ys: float(
    optax.softmax_cross_entropy_with_integer_labels(apply(p, xs), ys).mean()
  )
  history = {name: [] for name in ("train_loss", "val_accuracy", "test_accuracy")}
  history |= {"val_loss": [], "test_loss": []}
  for _ in range(epochs):
    key, order_key = jax.random.split(key)
    order = jax.random.permutation(order_key, len(y))[: batches * batch_size]
    (params, state), losses = jax.lax.scan(
      jax.jit(step), (params, state), order.reshape(batches, batch_size)
    )
    history["train_loss"].append(float(np.mean(losses)))
    history["val_accuracy"].append(accuracy(params, x_val, y_val))
    history["test_accuracy"].append(accuracy(params, x_test, y_test))
    history["val_loss"].append(mean_loss(params, x_val, y_val))
    history["test_loss"].append(mean_loss(params, x_test, y_test))
  logits = apply(params, x)
  final_loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())
  return history, final_loss

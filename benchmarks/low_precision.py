"""What a bfloat16 or float16 run gets by default: four ways to store the state, measured.

For each optimizer (INDIAN, INNAprop) and each way of storing its state for low-precision
params, in one process:

* **bfloat16 state**: the params' dtype (the default before 0.3; ``state_dtype=jnp.bfloat16``);
* **float32 state**: the default since 0.3 for params of fewer than 32 bits;
* **compensated bfloat16**: each state buffer kept as a bfloat16 pair (value, remainder), the
  optimizer's arithmetic in float32 (Kahan-style, as in low-precision training libraries);
* **stochastic rounding**: a bfloat16 state rounded up or down at random, in proportion to the
  remainder (unbiased, one PRNG draw per element and step).

(a) The issue's test: a constant gradient of 1, the params fixed, ``indian(1e-3, 0.1, 0.9)``
and ``innaprop(1e-3, 0.1, 0.9)``; the last update after 3,000 and 30,000 steps against the
float32 run's. (b) MNIST-1D MLP with bfloat16 params (inputs and forward pass in bfloat16) against
float32 params: final validation accuracy (a tenth of the training set held out), 3 seeds.

    python benchmarks/low_precision.py            # writes its section of RESULTS.md
    python benchmarks/low_precision.py --quick    # smoke test
"""

import argparse
import pathlib
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _common  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax.app import data, models  # noqa: E402

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
  "INDIAN": lambda lr, **kw: indian_optax.indian(lr, 0.1, 0.9, **kw),
  "INNAprop": lambda lr, **kw: indian_optax.innaprop(lr, 0.1, 0.9, **kw),
}
LEARNING_RATES = {"INDIAN": 1e-3, "INNAprop": 1e-3}  # the test
MNIST1D_LEARNING_RATES = {"INDIAN": 0.1, "INNAprop": 3e-3}  # the app's defaults


class _Pair(NamedTuple):
  """A float32 value stored as two bfloat16: the value and what it lost."""

  value: jax.Array
  remainder: jax.Array


def _is_buffer(x: Any) -> bool:
  return hasattr(x, "ndim") and x.ndim > 0 and x.dtype == jnp.float32


def stored_in_bfloat16(tx: optax.GradientTransformation, how: str) -> optax.GradientTransformation:
  """``tx`` (built with a float32 state) with its param-sized buffers kept in bfloat16 between
  steps: ``compensated`` (a bfloat16 pair) or ``stochastic`` (stochastic rounding)."""

  def store(state, key):
    if how == "compensated":

      def pair(x):
        value = x.astype(jnp.bfloat16)
        return _Pair(value, (x - value.astype(jnp.float32)).astype(jnp.bfloat16))

      return jax.tree.map(lambda x: pair(x) if _is_buffer(x) else x, state)
    leaves, structure = jax.tree.flatten(state)
    keys = iter(jax.random.split(key, len(leaves)))

    def rounded(x):
      bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
      noise = jax.random.bits(next(keys), x.shape, jnp.uint32) >> 16
      kept = (bits + noise) & jnp.uint32(0xFFFF0000)  # round up with probability remainder/ulp
      return jax.lax.bitcast_convert_type(kept, jnp.float32).astype(jnp.bfloat16)

    return jax.tree.unflatten(structure, [rounded(x) if _is_buffer(x) else x for x in leaves])

  def load(stored):
    if how == "compensated":
      widen = lambda x: x.value.astype(jnp.float32) + x.remainder.astype(jnp.float32)
      return jax.tree.map(
        lambda x: widen(x) if isinstance(x, _Pair) else x,
        stored,
        is_leaf=lambda x: isinstance(x, _Pair),
      )
    is_stored = lambda x: hasattr(x, "ndim") and x.ndim > 0 and x.dtype == jnp.bfloat16
    return jax.tree.map(lambda x: x.astype(jnp.float32) if is_stored(x) else x, stored)

  def init(params):
    return store(tx.init(params), jax.random.PRNGKey(0)), jax.random.PRNGKey(1)

  def update(updates, state, params=None):
    stored, key = state
    key, now = jax.random.split(key)
    updates, inner = tx.update(updates, load(stored), params)
    return updates, (store(inner, now), key)

  return optax.GradientTransformation(init, update)


STORAGES: dict[str, tuple[Callable[..., optax.GradientTransformation], int]] = {
  "bfloat16 state": (lambda make: make(state_dtype=jnp.bfloat16), 2),
  "float32 state (default)": (lambda make: make(), 4),
  "compensated bfloat16": (
    lambda make: stored_in_bfloat16(make(state_dtype=jnp.float32), "compensated"),
    4,
  ),
  "stochastic rounding": (
    lambda make: stored_in_bfloat16(make(state_dtype=jnp.float32), "stochastic"),
    2,
  ),
}
"""name -> (build from the optimizer's factory, bytes per param of each state buffer)."""


def last_update(tx: optax.GradientTransformation, dtype: Any, steps: int) -> float:
  """The last update of ``steps`` steps on a constant gradient of 1, params fixed at 0."""
  params = jnp.zeros(8, dtype)
  grads = jnp.ones(8, dtype)

  def step(state, _):
    updates, state = tx.update(grads, state, params)
    return state, updates

  state, _ = jax.jit(lambda s: jax.lax.scan(step, s, None, length=steps - 1))(tx.init(params))
  updates, _ = jax.jit(tx.update)(grads, state, params)
  return float(jnp.mean(updates.astype(jnp.float32)))


def constant_gradient_rows(steps_list: list[int]) -> list[list[str]]:
  rows = []
  for name, factory in OPTIMIZERS.items():
    off = {"weight_decay": None} if name == "INNAprop" else {}
    make = lambda **kw: factory(LEARNING_RATES[name], **off, **kw)  # noqa: B023, E731
    reference = {steps: last_update(make(), jnp.float32, steps) for steps in steps_list}
    for storage, (build, nbytes) in STORAGES.items():
      cells = []
      for steps in steps_list:
        ours = last_update(build(make), jnp.bfloat16, steps)
        cells += [f"{ours:.3e}", f"{ours / reference[steps]:.3f}"]
      buffers = 2 if name == "INNAprop" else 1
      rows.append([name, storage, str(nbytes * buffers), *cells])
    rows.append([name, "float32 params (yardstick)", "", *[
      c for steps in steps_list for c in (f"{reference[steps]:.3e}", "1")
    ]])  # fmt: skip
  return rows


def mnist1d_accuracies(
  make: Callable[[], optax.GradientTransformation], dtype: Any, seed: int, epochs: int
) -> float:
  """Final validation accuracy of the MNIST-1D MLP trained with params of ``dtype``."""
  dataset = data.load("mnist1d")
  n_val = len(dataset.x_train) // 10
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(dataset.x_train))
  x, y = dataset.x_train[order], dataset.y_train[order]
  x_val, y_val = x[:n_val], y[:n_val]
  x_train, y_train = jnp.asarray(x[n_val:]), jnp.asarray(y[n_val:])
  model = models.make_model("mlp", dataset.sample_shape, dataset.num_classes)
  params = jax.tree.map(lambda p: p.astype(dtype), model.init(jax.random.PRNGKey(seed)))
  tx = make()
  batch = 64
  steps = len(x_train) // batch

  def loss(params, xb, yb):
    logits = model.apply(params, xb.astype(dtype)).astype(jnp.float32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

  @jax.jit
  def epoch(carry, permutation):
    def step(carry, indices):
      params, state = carry
      grads = jax.grad(loss)(params, x_train[indices], y_train[indices])
      updates, state = tx.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), None

    batches = permutation[: steps * batch].reshape(steps, batch)
    return jax.lax.scan(step, carry, batches)[0]

  carry = (params, tx.init(params))
  for _ in range(epochs):
    carry = epoch(carry, jnp.asarray(rng.permutation(len(x_train))))
  logits = model.apply(carry[0], jnp.asarray(x_val).astype(dtype))
  return float(jnp.mean(jnp.argmax(logits, -1) == y_val))


def mnist1d_rows(seeds: int, epochs: int) -> tuple[list[list[str]], list[dict]]:
  """The table's rows, and its per-seed rows (setting, seed, final validation accuracy)."""
  rows, per_seed = [], []
  for name, factory in OPTIMIZERS.items():
    make = lambda **kw: factory(MNIST1D_LEARNING_RATES[name], **kw)  # noqa: B023, E731
    float32 = [mnist1d_accuracies(make, jnp.float32, s, epochs) for s in range(seeds)]
    rows.append([name, "float32 params", _common.mean_sd(float32), ""])
    per_seed += [dict(setting=f"{name}, float32 params", seed=s, final_val_accuracy=v)
                 for s, v in enumerate(float32)]  # fmt: skip
    for storage, (build, _) in STORAGES.items():
      built = lambda: build(make)  # noqa: B023, E731
      ours = [mnist1d_accuracies(built, jnp.bfloat16, s, epochs) for s in range(seeds)]
      gap = np.mean(np.subtract(ours, float32))
      rows.append([name, f"bfloat16 params, {storage}", _common.mean_sd(ours), f"{gap:+.4f}"])
      per_seed += [dict(setting=f"{name}, bfloat16 params, {storage}", seed=s,
                        final_val_accuracy=v) for s, v in enumerate(ours)]  # fmt: skip
  return rows, per_seed


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="smoke test: few steps, one seed")
  parser.add_argument("--results", type=pathlib.Path, default=_common.RESULTS)
  args = parser.parse_args(argv)
  steps_list = [30, 300] if args.quick else [3_000, 30_000]
  seeds, epochs = (1, 1) if args.quick else (3, 30)
  steps_header = [h for s in steps_list for h in (f"update after {s:,}", "/ float32")]
  table_a = _common.markdown_table(
    ["optimizer", "bfloat16 params, state as", "state bytes / param", *steps_header],
    constant_gradient_rows(steps_list),
  )
  rows_b, per_seed = mnist1d_rows(seeds, epochs)
  table_b = _common.markdown_table(
    ["optimizer", "params, state", f"val accuracy after {epochs} epochs", "- float32 (mean)"],
    rows_b,
  )
  body = (
    "(a) Constant gradient 1, params fixed at 0, INDIAN(1e-3, 0.1, 0.9) and INNAprop(1e-3, "
    "0.1, 0.9, weight decay off): the last update and its ratio to a float32 run's.\n\n"
    f"{table_a}\n\n"
    f"(b) MNIST-1D MLP, batch 64, {epochs} epochs, the app's default learning rates (INDIAN "
    f"0.1, INNAprop 3e-3), bfloat16 params and forward pass against float32; validation "
    f"accuracy on a tenth of the training set, mean ± sample sd over {seeds} seeds (no "
    f"verdict is drawn from {seeds} seeds: the column says how far apart the means are).\n\n"
    f"{table_b}"
  )
  _common.write_section("low_precision", body, args.results, seeds=per_seed)


if __name__ == "__main__":
  main()

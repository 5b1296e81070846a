"""The compiled, donated step updates the state in place: no state-sized copy (docs: algorithm).

Copies are a matter of XLA:CPU's buffer assignment, so every count here is taken for
the CPU backend (``platform="cpu"``), whatever the default backend of the machine
running the suite. XLA:GPU fuses the state and parameter updates into one loop and
makes no copy even where XLA:CPU does (``benchmarks/RESULTS.md``).
"""

import jax
import jax.numpy as jnp
import optax
import pytest

import indian_optax
from indian_optax import diagnostics

PARAMS = {f"layer{i}": {"w": jnp.zeros((64, 48)), "b": jnp.zeros(48)} for i in range(3)}
LEAVES = len(jax.tree.leaves(PARAMS))

COMMON = {
  "indian": lambda: indian_optax.indian(0.1),
  "indian_weight_decay": lambda: indian_optax.indian(0.1, weight_decay=1e-4),
  "indian_decoupled_decay": lambda: indian_optax.indian(0.1, decoupled_weight_decay=1e-2),
  "indian_initial_speed": lambda: indian_optax.indian(0.1, initial_speed=1.0),
  "indian_power_decay": lambda: indian_optax.indian(indian_optax.power_decay(0.1)),
  "indian_large_step": lambda: indian_optax.indian(4.0, alpha=0.5),  # alpha * lr = 2
  "indian_state_f32": lambda: indian_optax.indian(0.1, state_dtype=jnp.float32),
  "innaprop": lambda: indian_optax.innaprop(1e-3),
  "innaprop_no_decay": lambda: indian_optax.innaprop(1e-3, weight_decay=0.0),
  "innaprop_at_lr_equal_beta": lambda: indian_optax.innaprop(0.9, beta=0.9),
  "innaprop_warmup_cosine": lambda: indian_optax.innaprop(
    optax.warmup_cosine_decay_schedule(0.0, 1e-3, 10, 100)
  ),
  "innaprop_injected": lambda: optax.inject_hyperparams(indian_optax.innaprop)(1e-3),
  "innaprop_clipped": lambda: optax.chain(
    optax.clip_by_global_norm(1.0), indian_optax.innaprop(1e-3)
  ),
}
"""The settings whose step runs in place on XLA:CPU."""

EXACT_FROM_THE_OLD_STATE = {
  "indian_alpha_lr_near_1": (lambda: indian_optax.indian(2.0, alpha=0.5), LEAVES),
  "indian_cosine_schedule": (
    lambda: indian_optax.indian(optax.cosine_decay_schedule(0.1, 100)),
    LEAVES,
  ),
  # Traced alpha and beta: the basis change reads the params too, so they are copied as well.
  "indian_injected": (lambda: optax.inject_hyperparams(indian_optax.indian)(0.1), 2 * LEAVES),
}
"""INDIAN's phi form where |1 - alpha lr| >= 1/2 is not known when it is built: the copies."""


def params_of(dtype):
  return jax.tree.map(lambda a: a.astype(dtype), PARAMS)


@pytest.mark.parametrize("name", sorted(COMMON))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_donated_step_has_no_state_sized_copy_on_the_cpu(name, dtype):
  assert diagnostics.count_state_sized_copies(COMMON[name](), params_of(dtype), "cpu") == 0


@pytest.mark.parametrize("name", sorted(EXACT_FROM_THE_OLD_STATE))
def test_phi_form_outside_the_known_band_pays_copies_on_the_cpu(name):
  """The documented price of exactness where the in-place form could divide by ~0."""
  factory, copies = EXACT_FROM_THE_OLD_STATE[name]
  assert diagnostics.count_state_sized_copies(factory(), params_of(jnp.float32), "cpu") == copies


def test_the_copy_detector_sees_the_copy_of_the_naive_step():
  """The naive update (u from the old phi) is what makes XLA:CPU copy the state."""

  def naive(lr=0.1, alpha=0.5, beta=0.1):
    def init(params):
      return jnp.zeros([], jnp.int32), optax.tree.zeros_like(params)

    def update(grads, state, params=None):
      count, phi = state
      updates = jax.tree.map(lambda p, g: -lr * (p / beta + beta * g), phi, grads)
      phi = jax.tree.map(
        lambda p, g: (1 - alpha * lr) * p + lr * beta * (1 - alpha * beta) * g, phi, grads
      )
      return updates, (count + 1, phi)

    return optax.GradientTransformation(init, update)

  assert diagnostics.count_state_sized_copies(naive(), PARAMS, "cpu") == LEAVES

"""The compiled, donated step updates the state in place: no state-sized copy (docs: algorithm)."""

import jax.numpy as jnp
import optax
import pytest

import indian_optax
from indian_optax import diagnostics

PARAMS = {f"layer{i}": {"w": jnp.zeros((64, 48)), "b": jnp.zeros(48)} for i in range(3)}

OPTIMIZERS = {
  "indian": lambda: indian_optax.indian(0.1),
  "indian_weight_decay": lambda: indian_optax.indian(0.1, weight_decay=1e-4),
  "indian_decoupled_decay": lambda: indian_optax.indian(0.1, decoupled_weight_decay=1e-2),
  "indian_initial_speed": lambda: indian_optax.indian(0.1, initial_speed=1.0),
  "indian_schedule": lambda: indian_optax.indian(indian_optax.power_decay(0.1)),
  "indian_state_f32": lambda: indian_optax.indian(0.1, state_dtype=jnp.float32),
  "innaprop": lambda: indian_optax.innaprop(1e-3),
  "innaprop_no_decay": lambda: indian_optax.innaprop(1e-3, weight_decay=0.0),
  "innaprop_clipped": lambda: optax.chain(
    optax.clip_by_global_norm(1.0), indian_optax.innaprop(1e-3)
  ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_donated_step_has_no_state_sized_copy(name, dtype):
  params = {k: {n: a.astype(dtype) for n, a in v.items()} for k, v in PARAMS.items()}
  assert diagnostics.count_state_sized_copies(OPTIMIZERS[name](), params) == 0


def test_the_copy_detector_sees_the_copy_of_the_naive_step():
  """The naive update (u from the old phi) is what makes XLA copy the state."""

  def naive(lr=0.1, alpha=0.5, beta=0.1):
    def init(params):
      return indian_optax.IndianState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params))

    def update(grads, state, params=None):
      import jax

      updates = jax.tree.map(lambda p, g: -lr * (p / beta + beta * g), state.phi, grads)
      phi = jax.tree.map(
        lambda p, g: (1 - alpha * lr) * p + lr * beta * (1 - alpha * beta) * g, state.phi, grads
      )
      return updates, indian_optax.IndianState(state.count + 1, phi)

    return optax.GradientTransformation(init, update)

  assert diagnostics.count_state_sized_copies(naive(), PARAMS) > 0

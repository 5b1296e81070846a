"""power_decay is the authors' step-size decay."""

import jax
import numpy as np
import pytest
from reference import power_decay_reference

import indian_optax


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("transition_steps", [1, 7])
def test_power_decay_matches_the_formula(float64, power, transition_steps):
  schedule = indian_optax.power_decay(0.1, power, transition_steps)
  got = [float(schedule(k)) for k in range(50)]
  np.testing.assert_allclose(
    got, power_decay_reference(0.1, power, 50, transition_steps), rtol=1e-15
  )


def test_power_decay_is_jittable_and_float32_by_default():
  schedule = indian_optax.power_decay(0.1, 0.5)
  value = jax.jit(schedule)(3)
  assert value.dtype == np.float32
  assert float(value) == pytest.approx(0.05)

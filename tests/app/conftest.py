"""The app's tests' fixtures (the helpers are in ``tests/tiny.py``)."""

import numpy as np
import pytest
from tiny import hand_made, indian_factory, tiny_problem


@pytest.fixture
def problem():
  return tiny_problem()


@pytest.fixture
def problem64(float64):
  """The same problem in float64 (float64 enabled for the test)."""
  return tiny_problem(np.float64)


@pytest.fixture
def indian():
  """INDIAN as a sweep's factory of (alpha, beta, learning_rate)."""
  return indian_factory


@pytest.fixture
def make_result():
  """``make_result(configs, final_val, final_loss, ...)``: a hand-made 2-epoch result."""
  return hand_made

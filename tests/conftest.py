import jax
import pytest


@pytest.fixture
def float64():
  """Runs a test with float64 enabled, restoring the previous setting afterwards."""
  with jax.enable_x64(True):
    yield

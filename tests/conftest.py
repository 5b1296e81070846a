import jax
import pytest


@pytest.fixture
def float64():
  """Runs a test with float64 enabled, restoring the previous setting afterwards."""
  with jax.enable_x64(True):
    yield


# The multi-device scripts set up 8 simulated devices at import; they run in their own
# processes (test_sharding.py), never imported by pytest's collection (doctests included).
collect_ignore = ["multidevice"]

import jax
import pytest


@pytest.fixture(autouse=True)
def no_compile_cache_in_process(monkeypatch):
  """In-process CLI runs leave JAX's compilation cache off (its own test turns it on)."""
  monkeypatch.setenv("INDIAN_OPTAX_COMPILE_CACHE", "off")


@pytest.fixture
def float64():
  """Runs a test with float64 enabled, restoring the previous setting afterwards."""
  with jax.enable_x64(True):
    yield


# The multi-device scripts set up 8 simulated devices at import; they run in their own
# processes (test_sharding.py), never imported by pytest's collection (doctests included).
collect_ignore = ["multidevice"]

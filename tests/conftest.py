import os

import jax
import pytest
from hypothesis import HealthCheck, settings

# The property tests' profiles: HYPOTHESIS_PROFILE=ci (the default: a fixed seed, few
# examples) or thorough (for a release: 5,000 examples per test, 10^4 per property).
settings.register_profile(
  "ci", max_examples=40, derandomize=True, deadline=None,
  suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile(
  "thorough", max_examples=5_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def compilations_shared_by_the_tests(tmp_path_factory):
  """JAX's persistent compilation cache, for this session: tests that build the same program
  (the same sweep of the same tiny problem, say) compile it once."""
  folder = os.environ.get("INDIAN_OPTAX_TEST_COMPILE_CACHE") or tmp_path_factory.getbasetemp()
  jax.config.update("jax_compilation_cache_dir", str(folder) + "/jax-cache")
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  yield


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
# processes, never imported by pytest's collection (doctests included).
collect_ignore = ["integration/multidevice"]

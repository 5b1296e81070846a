"""8 simulated devices: a 64-point alpha x beta sweep runs 8 configurations per device, in one
program (``chunk_size=None``), and equals the single-device sweep (float64); the CPU's auto
width (16 per program) spreads each program over the 8 devices too."""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import indian_optax  # noqa: E402
from indian_optax import app  # noqa: E402

assert jax.device_count() == 8
rng = np.random.default_rng(0)
x = rng.normal(size=(160, 6))
y = (x[:, 0] - x[:, 1] > 0).astype(np.int32)
setup = dict(
  init_params=lambda key: {"w": 0.3 * jax.random.normal(key, (6, 8)), "v": jnp.zeros((8, 2))},
  apply_fn=lambda p, x: jnp.tanh(x @ p["w"]) @ p["v"],
  data=(x[:128], y[:128], x[128:], y[128:]),
  epochs=3,
  batch_size=32,
)
grid = {"alpha": list(np.linspace(0.1, 2.0, 8)), "beta": list(np.geomspace(0.01, 1.0, 8))}
factory = lambda alpha, beta: indian_optax.indian(0.1, alpha, beta)

calls = []
sharded = app.sweep(factory, grid, on_epoch=calls.append, chunk_size=None, **setup)
single = app.sweep(factory, grid, devices=jax.devices()[:1], **setup)

assert sharded.devices == 8 and single.devices == 1
placed = app.Placement.on(jax.devices()).split(np.arange(64.0))
assert [shard.data.shape for shard in placed.addressable_shards] == [(8,)] * 8
assert len(sharded.configs) == 64
assert {report.chunk for report in calls} == {0}, "64 configurations must run as one program"
np.testing.assert_allclose(sharded.train_loss, single.train_loss, rtol=1e-9)
np.testing.assert_allclose(sharded.final_train_loss, single.final_train_loss, rtol=1e-9)
np.testing.assert_array_equal(sharded.test_accuracy, single.test_accuracy)
np.testing.assert_array_equal(sharded.val_accuracy, single.val_accuracy)

# A chunk that does not divide by the device count is padded up to a multiple of it.
chunked = app.sweep(factory, grid, chunk_size=20, **setup)
np.testing.assert_allclose(chunked.final_train_loss, single.final_train_loss, rtol=1e-9)
# The auto width: 16 configurations per program, spread over the 8 devices.
auto = app.sweep(factory, grid, **setup)
assert auto.devices == 8
np.testing.assert_allclose(auto.final_train_loss, single.final_train_loss, rtol=1e-9)
# Fewer configurations than devices in one program: only as many devices, no padding.
two = app.sweep(factory, {"alpha": [0.5], "beta": [0.1, 0.2]}, chunk_size=None, **setup)
assert two.devices == 2
print("full ok")

# Successive halving on 8 devices: survivors gathered into smaller sharded programs, equal
# to the same halving on one device.
halved = app.sweep(factory, grid, halving=3, **setup)
halved_single = app.sweep(factory, grid, halving=3, devices=jax.devices()[:1], **setup)
assert halved.devices == 8
np.testing.assert_array_equal(halved.epochs_trained, halved_single.epochs_trained)
np.testing.assert_allclose(halved.train_loss, halved_single.train_loss, rtol=1e-9)
assert sorted(set(halved.epochs_trained.tolist())) == [1, 3], halved.epochs_trained
print("halving ok")

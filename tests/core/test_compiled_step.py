"""What the compiled, donated step costs in copies on XLA:CPU (docs: algorithm.md, "Cost").

Copies are a matter of XLA:CPU's buffer assignment, so every count here is taken for the CPU
backend (``platform="cpu"``), whatever the machine's default backend, and bounded from above:
the numbers are the compiler's, not the algorithm's (the bounds hold for XLA:CPU as shipped
with jaxlib 0.10.2; the exact counts per step, with their passes over memory, are recorded
by ``benchmarks/step_cost.py --passes``). XLA:GPU writes the params and the state
in one fused loop and makes no copy (``benchmarks/RESULTS.md``).

* Plain INDIAN (no weight decay, constant alpha and beta): the params' loop reads the old phi
  that the state's loop overwrites in place. XLA:CPU's default copy insertion copies phi (at
  most one copy per leaf); its region analysis orders the two loops and copies nothing.
* Where the state's loop also reads the params (a weight decay, alpha or beta that may change,
  INNAprop's decoupled decay), each loop reads what the other overwrites: at most two copies
  per leaf (phi and the params), at least one whatever the copy insertion.
"""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import optax
import pytest

import indian_optax
from indian_optax import diagnostics

PARAMS = {f"layer{i}": {"w": jnp.zeros((64, 48)), "b": jnp.zeros(48)} for i in range(3)}
LEAVES = len(jax.tree.leaves(PARAMS))

PLAIN = {
  "indian": lambda: indian_optax.indian(0.1),
  "indian_initial_speed": lambda: indian_optax.indian(0.1, initial_speed=1.0),
  "indian_power_decay": lambda: indian_optax.indian(indian_optax.power_decay(0.1)),
  "indian_cosine_schedule": lambda: indian_optax.indian(optax.cosine_decay_schedule(0.1, 100)),
  "indian_alpha_lr_1": lambda: indian_optax.indian(2.0, alpha=0.5),
  "indian_state_f32": lambda: indian_optax.indian(0.1, state_dtype=jnp.float32),
  "innaprop_no_decay": lambda: indian_optax.innaprop(1e-3, weight_decay=None),
}
READING_THE_PARAMS = {
  "indian_weight_decay": lambda: indian_optax.indian(0.1, weight_decay=1e-4),
  "indian_decoupled_decay": lambda: indian_optax.indian(0.1, decoupled_weight_decay=1e-2),
  "indian_injected": lambda: optax.inject_hyperparams(indian_optax.indian)(0.1),
  "innaprop": lambda: indian_optax.innaprop(1e-3),
  "innaprop_at_lr_equal_beta": lambda: indian_optax.innaprop(0.9, beta=0.9),
  "innaprop_clipped": lambda: optax.chain(
    optax.clip_by_global_norm(1.0), indian_optax.innaprop(1e-3)
  ),
}


def params_of(dtype):
  return jax.tree.map(lambda a: a.astype(dtype), PARAMS)


@pytest.mark.parametrize("name", sorted(PLAIN))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_plain_steps_copy_at_most_phi_once_per_leaf(name, dtype):
  assert diagnostics.count_state_sized_copies(PLAIN[name](), params_of(dtype), "cpu") <= LEAVES


@pytest.mark.parametrize("name", sorted(READING_THE_PARAMS))
def test_steps_reading_the_params_copy_at_most_twice_per_leaf(name):
  tx = READING_THE_PARAMS[name]()
  assert diagnostics.count_state_sized_copies(tx, params_of(jnp.float32), "cpu") <= 2 * LEAVES


@pytest.mark.slow
def test_region_analysis_runs_the_plain_step_in_place():
  """A fresh process (XLA reads its flags when the backend starts): no copy at all."""
  script = (
    "import jax.numpy as jnp, indian_optax\n"
    "from indian_optax import diagnostics\n"
    "params = {f'p{i}': jnp.zeros((64, 48)) for i in range(3)}\n"
    "for tx in (indian_optax.indian(0.1), indian_optax.innaprop(1e-3, weight_decay=None)):\n"
    "  print(diagnostics.count_state_sized_copies(tx, params, 'cpu'))\n"
  )
  flags = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_copy_insertion_use_region_analysis=true"
  result = subprocess.run(
    [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
    env=dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu"),
  )  # fmt: skip
  assert result.returncode == 0, result.stderr
  assert result.stdout.split() == ["0", "0"]


def test_the_copy_detector_sees_the_copy_of_a_step_that_reads_the_old_state():
  """The detector is what the bounds above rest on: it must see a copy where there is one."""

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

  assert diagnostics.count_state_sized_copies(naive(), PARAMS, "cpu") >= 1


@pytest.mark.parametrize("name", ["indian", "innaprop"])
def test_the_pass_count_sees_every_copy_and_at_least_the_ideal_traffic(name):
  """``memory_passes`` reads the same HLO: its copies are the copy detector's, and no step
  moves less than reading g, the state and θ and writing the state and θ (5 passes)."""
  tx = {"indian": indian_optax.indian(0.1), "innaprop": indian_optax.innaprop(1e-3)}[name]
  size = 1_000_003
  loops = diagnostics.memory_passes(tx, size, "cpu")
  leaf = jax.ShapeDtypeStruct((size,), jnp.float32)
  copies = sum(loop.opcode == "copy" for loop in loops)
  assert copies == diagnostics.count_state_sized_copies(tx, leaf, "cpu")
  assert sum(loop.reads + loop.writes for loop in loops) >= 5
  assert all(loop.writes >= 1 for loop in loops if loop.opcode == "fusion")

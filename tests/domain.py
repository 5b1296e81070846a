"""The valid domain of the optimizers' hyperparameters, as hypothesis strategies.

Shared by the property tests: (learning_rate, alpha, beta) over lr >= 0, alpha >= 0,
beta > 0, with the points where a rewriting of the recursion could divide by zero drawn on
purpose (lr = beta, lr = beta (1 +- eps), alpha lr = 1, tiny beta, alpha = 0).
"""

import numpy as np
from hypothesis import strategies as st

log_uniform = lambda low, high: st.floats(np.log(low), np.log(high)).map(np.exp)
betas = st.one_of(log_uniform(1e-3, 10.0), st.sampled_from([1e-4, 0.1, 0.9, 1.0, 2.0]))
alphas = st.one_of(st.just(0.0), log_uniform(1e-3, 10.0), st.sampled_from([0.1, 0.5, 1.0, 2.0]))
epsilons = st.sampled_from([0.0, 1e-7, -1e-7, 1e-6, -1e-6, 1e-3, -1e-3, 0.03])


@st.composite
def hyperparameters(draw):
  """(lr, alpha, beta) with lr often exactly at, or a hair away from, beta or 1/alpha."""
  alpha, beta, eps = draw(alphas), draw(betas), draw(epsilons)
  # lr = 0 is one kind in eight, so that the options meet steps that move.
  kinds = ["free"] * 3 + ["beta"] * 2 + (["inverse_alpha"] * 2 if alpha > 0 else ["free"] * 2)
  kind = draw(st.sampled_from([*kinds, "zero"]))
  lr = {
    "free": draw(log_uniform(1e-4, 2.0)),
    "beta": beta * (1 + eps),
    "inverse_alpha": (1 + eps) / alpha if alpha > 0 else 0.0,
    "zero": 0.0,
  }[kind]
  return float(lr), float(alpha), float(beta)


@st.composite
def quadratics(draw):
  """A random quadratic 0.5 (x - x*)^T H (x - x*): (H, x*, x0), eigenvalues in [0.05, 20]."""
  rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
  n = draw(st.integers(1, 6))
  q, _ = np.linalg.qr(rng.normal(size=(n, n)))
  curvature = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
  return (q * curvature) @ q.T, rng.normal(size=n) + 1.0, rng.normal(size=n)

"""Plain NumPy/float64 transcriptions of the papers' recursions, independent of the package.

These are the specifications the optimizers are checked against: the INDIAN
(theta, psi) recursion of Castera et al. (arXiv 1905.12278) and the INNAprop
update as its authors' code writes it (arXiv 2410.05871).
"""

import numpy as np


def indian_reference(
  grad_fn,
  theta0,
  step_sizes,
  alpha,
  beta,
  *,
  weight_decay=0.0,
  decoupled_weight_decay=0.0,
  initial_speed=None,
  decay_mask=1.0,
  dtype=np.float64,
  with_psi=False,
):
  """Returns the iterates theta_1..theta_K of INDIAN in the paper's (theta, psi) form
  (``with_psi``: and psi_1..psi_K).

  psi_0 = (1 - alpha beta) theta_0 - beta^2 g_0 + beta c g_0 gives the initial
  velocity -c g_0 (c = beta: the authors' PyTorch code). Coupled weight decay
  (INNA): gamma w theta is subtracted in the theta step only. Decoupled decay
  (INNAprop's order): theta <- (1 - gamma lambda) theta before the step. alpha, beta
  and both decays may be sequences, one value per step (the recursion with alpha_k,
  beta_k); ``decay_mask`` (0 or 1 per coordinate of the flat theta) says where the decays
  apply.
  Every operation runs in ``dtype`` (float32, ml_dtypes.bfloat16, complex ...): the
  plain recursion's own rounding, the yardstick for lower precisions.
  """
  scalar = np.dtype(dtype).type if not np.issubdtype(dtype, np.complexfloating) else float
  theta = np.array(theta0, dtype=dtype)
  psi = None
  trajectory, psis = [], []
  for k, gamma in enumerate(step_sizes):
    a, b, gamma = scalar(_at(alpha, k)), scalar(_at(beta, k)), scalar(gamma)
    g = np.asarray(grad_fn(theta), dtype=dtype)
    if psi is None:
      c = b if initial_speed is None else scalar(initial_speed)
      psi = (1 - a * b) * theta - b**2 * g + b * c * g
    w, lam = (
      scalar(_at(decay, k)) * decay_mask for decay in (weight_decay, decoupled_weight_decay)
    )
    theta = (1 - gamma * lam) * theta
    new_theta = theta + gamma * ((1 / b - a) * theta - psi / b - b * g) - gamma * w * theta
    psi = psi + gamma * ((1 / b - a) * theta - psi / b)
    theta = new_theta
    trajectory.append(theta.copy())
    psis.append(psi.copy())
  return (np.array(trajectory), np.array(psis)) if with_psi else np.array(trajectory)


def _at(value, k):
  return value[k] if np.ndim(value) else value


def rms_scaled(grad_fn, sigma, eps, dtype=np.float64):
  """grad_fn followed by bias-corrected RMS scaling, g / (sqrt(v / (1 - sigma^k)) + eps).

  Stateful: call it once per step, as the INDIAN reference does.
  """
  scalar = np.finfo(dtype).dtype.type  # the real dtype: v averages |g|^2
  sigma, eps = scalar(sigma), scalar(eps)
  state = {"v": scalar(0.0), "k": 0}

  def scaled(theta):
    g = np.asarray(grad_fn(theta), dtype=dtype)
    state["k"] += 1
    state["v"] = sigma * state["v"] + (1 - sigma) * (g * np.conj(g)).real
    return g / (np.sqrt(state["v"] / (1 - sigma ** state["k"])) + eps)

  return scaled


def cosine(start, end, steps, steps_per_epoch):
  """The INNAprop authors' per-epoch cosine from start to end (adjust_alpha_cosine), per step."""
  epochs = steps // steps_per_epoch
  return [
    end + (start - end) * 0.5 * (1 + np.cos(np.pi * (k // steps_per_epoch) / epochs))
    for k in range(steps)
  ]


def innaprop_reference(
  grad_fn, theta0, step_sizes, alpha, beta, sigma, eps, weight_decay, decay_mask=1.0
):
  """Returns theta_1..theta_K of INNAprop, written as its authors' code writes the update
  (``weight_decay`` may be a sequence, one value per step; ``decay_mask`` as in
  :func:`indian_reference`)."""
  theta = np.array(theta0, dtype=np.float64)
  psi = (1 - alpha * beta) * theta
  v = np.zeros_like(theta)
  trajectory = []
  for k, gamma in enumerate(step_sizes, start=1):
    g = np.asarray(grad_fn(theta), dtype=np.float64)
    theta = theta * (1 - gamma * _at(weight_decay, k - 1) * decay_mask)
    v = sigma * v + (1 - sigma) * g * g
    v_hat = v / (1 - sigma**k)
    g_hat = g / (np.sqrt(v_hat) + eps)
    psi = (1 - gamma / beta) * psi + gamma * (1 / beta - alpha) * theta
    theta = (
      (1 + gamma * (1 - alpha * beta) / (beta - gamma)) * theta
      - gamma / (beta - gamma) * psi
      - gamma * beta * g_hat
    )
    trajectory.append(theta.copy())
  return np.array(trajectory)


def power_decay_reference(init_value, power, steps, transition_steps=1):
  """The authors' step sizes gamma_k = gamma_0 / (1 + floor(k / T))^p, k = 0..steps-1."""
  return [init_value / (1 + k // transition_steps) ** power for k in range(steps)]


def max_relative_deviation(trajectory, reference):
  """max_k ||theta_k - ref_k|| / ||ref_k||: the relative deviation of two trajectories."""
  trajectory = np.asarray(trajectory).reshape(len(reference), -1)
  reference = np.asarray(reference).reshape(len(reference), -1)
  errors = np.linalg.norm(trajectory - reference, axis=1)
  return float(np.max(errors / np.linalg.norm(reference, axis=1)))

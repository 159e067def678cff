"""Importance-weighted estimates of log Z and the effective sample size, from log-weights.

A sampler that provides a log-weight log w(x) = −E(x) − log q(x) for each of its samples (an
exact density q, or a path weight for diffusion samplers) gives the unbiased estimate
Ẑ = mean(w) of Z = ∫ exp(−E). Its log is reported with the delta-method standard error
sd(w) / (√N mean(w)); the normalised ESS, (Σw)² / (N Σw²) ∈ (0, 1], is taken per batch of
``batch_size`` samples and averaged, since its value depends on the batch size (iDEM reports it on
batches of 16; Akhound-Sadegh et al. 2024).
"""

import numpy as np
from scipy import special


def log_z_estimate(log_weights: np.ndarray, batch_size: int | None = None) -> dict[str, float]:
  """``{log_z, log_z_standard_error, ess_mean, ess_std, ess_batch_size}`` of the log-weights (N,).

  Args:
    log_weights: log w of N samples, finite.
    batch_size: samples per ESS batch (the last incomplete batch is dropped); None: all N.

  Raises:
    ValueError: for an empty or non-finite array, or a batch size outside [1, N].
  """
  log_weights = np.ravel(np.asarray(log_weights, np.float64))
  num = log_weights.size
  if num == 0 or not np.isfinite(log_weights).all():
    raise ValueError("need a non-empty array of finite log-weights")
  batch_size = num if batch_size is None else batch_size
  if not 1 <= batch_size <= num:
    raise ValueError(f"batch_size must be in [1, {num}], got {batch_size}")
  log_z = special.logsumexp(log_weights) - np.log(num)
  relative = np.exp(log_weights - log_z)  # w / mean(w), well scaled whatever Z is
  batches = relative[:num // batch_size * batch_size].reshape(-1, batch_size)
  ess = batches.sum(1) ** 2 / (batch_size * (batches**2).sum(1))
  return {"log_z": float(log_z), "log_z_standard_error": float(relative.std() / np.sqrt(num)),
          "ess_mean": float(ess.mean()), "ess_std": float(ess.std()),
          "ess_batch_size": int(batch_size)}

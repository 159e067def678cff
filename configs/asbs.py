"""ASBS (Liu et al. 2025) on the two-mode GMM, with the Adjoint Sampling settings of
``configs/adjoint.py`` and a Gaussian prior in whitened coordinates."""

import ml_collections

from configs import adjoint


def get_config() -> ml_collections.ConfigDict:
  config = adjoint.get_config()
  del config.num_epochs  # replaced by stages
  config.prior = "gaussian"  # or "dirac": X₀ = 0, which reduces ASBS to Adjoint Sampling
  config.prior_mean = (2.0, -1.0)
  config.prior_variances = (1.5, 0.5)
  config.num_stages = 10
  config.adjoint_epochs = 200  # per stage
  config.corrector_epochs = 50  # per stage
  config.corrector_learning_rate = 1e-3
  config.corrector_hidden_sizes = (128, 128, 128)
  return config

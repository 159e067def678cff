"""Adjoint Sampling (Havens et al. 2025) on the 2-D quadratic well or the two-mode GMM.

The target is picked by ``--energy=well|gmm`` of ``adjoint.adjoint``; both targets' parameters
are here.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  # Base process dX = σ(t) dW with the geometric schedule.
  config.sigma_min = 1e-3
  config.sigma_max = 1.0
  config.num_steps = 124  # Euler–Maruyama steps on [0, 1]
  # Training.
  config.num_epochs = 200
  config.n_paths = 1000  # paths simulated per epoch
  config.n_inner_loop = 10  # Adam steps per epoch
  config.batch_size = 256
  config.learning_rate = 1e-3
  config.buffer_size = 10_000
  config.ema_decay = 0.999  # moving average of the parameters that simulate paths; 0: off
  config.max_adjoint_norm = 100.0  # per-sample clipping of the adjoint; None: no clipping
  config.chunk_size = 25  # epochs per compiled call (progress is printed after each)
  config.checkpoint_every = 50  # epochs between checkpoints (a multiple of chunk_size)
  # Network f_θ(t, x) = u_θ(t, x) / σ(t).
  config.control_output = "f"  # the MLP outputs f (the papers' code); "u": it outputs u = σ f
  config.hidden_sizes = (128, 128, 128)
  config.num_frequencies = 8
  config.activation = "relu"  # SiLU costs ~40% more time per epoch on CPU
  # Targets.
  config.well_scale = 1.0  # s in E = ½‖x‖²/s²
  config.gmm_weights = (0.5, 0.5)
  config.gmm_means = ((2.0, 2.0), (-4.0, -4.0))
  config.gmm_covariance_diagonals = ((2.0, 3.0), (1.0, 2.0))
  # Evaluation.
  config.num_samples = 2000
  return config

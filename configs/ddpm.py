"""The 1-D DDPM / DDIM of Nakkiran et al. (2024) on the target N(0, τ)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.target_variance = 1.0  # τ: the target is N(0, τ)
  config.sigma_q = 1.0
  config.dt = 0.1
  # Start law of the DDPM sampler only; DDIM always starts from the exact p₁.
  config.start = "exact"  # x₁ ~ N(0, τ + σ_q²); "tutorial": N(0, σ_q²)
  # Training f_θ(x, t) ≈ E[x_{t−Δt} | x_t].
  config.num_epochs = 20
  config.steps_per_epoch = 200
  config.batch_size = 1024
  config.learning_rate = 3e-3  # Adam, cosine-decayed to 0 over the run
  config.hidden_sizes = (64, 64)
  config.num_frequencies = 4
  config.activation = "silu"
  config.chunk_size = 10  # epochs per compiled call
  # Evaluation.
  config.num_monitor = 10_000  # DDPM samples per epoch for the mean/std histories
  config.num_samples = 100_000
  return config

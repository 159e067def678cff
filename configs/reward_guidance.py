"""Reward-directed guidance on 8×8 digits (Yuan et al. 2023, the published pipeline, Part 1)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.model_dir = "runs/digits_models"  # cache of the digits DDPM and classifiers
  config.ddpm_steps = 6000  # training steps of the cached unconditional DDPM
  # fake_dataset: ground-truth reward = frozen classifier features → random linear head.
  config.reward = "classifier"  # or "intensity": mean pixel intensity, z-scored
  config.reward_classifier_seed = 1  # not the metric classifier (seed 0): no circular scores
  config.head_seed = 0  # weights and bias ~ U(−1/√F, 1/√F)
  config.label_noise = 0.1
  # train: reward predictor μ_θ(x), a residual ConvNet without time input, on noised images.
  config.channels = 32
  config.num_blocks = 2
  config.train_steps = 2000
  config.batch_size = 128
  config.learning_rate = 1e-3
  config.chunk_size = 500  # steps per compiled call (a progress line each)
  config.checkpoint_every = 1000  # steps between checkpoints (--resume continues from the last)
  # inference: DDIM with classifier-style guidance.
  config.num_sampling_steps = 50
  config.clip_denoised = False  # True: x̂₀ clipped to [−1, 1] at each DDIM step (diffusers)
  config.clip_output = True  # final images clamped to [−1, 1] before scoring, as when saved
  config.pca_dim = 20  # principal subspace of the digits for the off-manifold residual
  return config

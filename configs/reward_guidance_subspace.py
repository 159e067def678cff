"""The subspace theory experiment of Yuan et al. (2023), ``python -m reward_guidance.subspace``."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.dim = 64  # D
  config.latent_dim = 16  # d
  config.num_unlabeled = 65536  # n₁
  config.num_labeled = 1024  # n₂
  config.label_noise = 0.1
  config.ridge = 1.0  # λ
  config.pseudo_noise = 0.1  # ν
  config.num_diffusion_steps = 200  # T, cosine schedule
  config.max_beta = 0.999  # β clip of the cosine schedule (Nichol & Dhariwal 2021)
  config.networks = ("subspace", "mlp")
  config.width = 256
  config.train_steps = 1500
  config.batch_size = 512
  config.learning_rate = 1e-3  # Adam, cosine-decayed to 0
  config.targets = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
  config.num_samples = 2000  # per target
  config.num_oracle_samples = 20000
  return config

"""DxMI fine-tuning of the 8×8-digits DDPM cut to 5 steps (Yoon et al. 2024, Algorithm 2).

Budget: about 30 ms per iteration on two CPU cores, so the default 2000 iterations with an
evaluation every 200 take about two minutes after the pretrained DDPM is cached.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.model_dir = "runs/digits_models"  # cache of the pretrained DDPM and classifier
  config.ddpm_steps = 6000  # training steps of the cached DDPM to use
  # The few-step sampler: FastDPM-VAR reduction of the DDPM.
  config.num_steps = 5
  config.spacing = "quadratic"
  # Value = energy E(x): one time-independent MLP.
  config.value_hidden = (512, 512)
  # Algorithm 2.
  config.iterations = 2000
  config.batch_size = 128
  config.tau_entropy = 0.1  # τ₁
  config.tau_velocity = 0.01  # τ₂
  config.gamma = 1.0
  config.time_cost = "sigmoid"  # or "linear" (time_cost_value per step) or "none"
  config.time_cost_value = 0.05
  config.value_lr = 1e-5
  config.sampler_lr = 1e-6  # the paper's CIFAR-10 value is 1e-7
  config.log_std_lr_multiplier = 100.0
  config.sampler_grad_clip = 0.1
  config.buffer_capacity = 128 * 5 * 20
  config.value_guidance = 0.0  # λ of x ← x − λ σ_t ∇E(x) after each step (0: off)
  # Evaluation: clfFD of num_eval samples against the training digits every evaluate_every
  # iterations; the best sampler is kept and reported on the test digits.
  config.evaluate_every = 200
  config.num_eval = 1497
  config.chunk_size = 100
  return config

"""DiKL on MW-32. ``paper``: He et al. 2025's published settings; ``quick``: a 2-core CPU.

Quick preset: about 70 s of training on the quiet 2-core CPU (63-71 s over five seeds,
docs/RESULTS.md, "MW-32 quick preset over five seeds"); budget 10 minutes.
"""

from configs import dikl_base


def get_config(preset: str = "paper"):
  config = dikl_base.base_config("mw", preset)
  config.beta_start, config.beta_end = 1e-4, 0.15
  config.latent_dim = 32
  config.generator_lr, config.score_lr = 1e-3, 1e-4
  config.score_steps = 50
  config.num_importance, config.mala_steps = 10, 5
  config.annealing_steps = 15  # the published `AIS_step: 15`
  config.step_scale, config.posterior_std = 0.5, 0.5  # ours: no published equivalent
  config.weight = "inv_alpha"
  if preset == "quick":
    # Tuned before the paper preset took the published values: score-network inputs scaled by
    # 1.5, plain importance sampling.
    config.data_std, config.annealing_steps = 1.5, 0
    config.num_iterations = 1500
    # Smaller, adapted MALA steps: at 0.125 the quartic wells reject ~85% of the moves.
    config.posterior_std, config.adapt_step_size, config.mala_steps = 0.2, True, 10
    config.generator_hidden, config.generator_layers = 256, 3
    config.score_hidden, config.score_layers = 256, 3
    config.batch_size = config.score_batch_size = 256
    config.score_steps = 10
    # A generator slower than its score network: seed 0 then meets the specification's bounds
    # (P 0.875, energy TVD 0.18), seed 1 does not (0.750, 0.38); see docs/RESULTS.md.
    config.generator_lr, config.score_lr = 3e-4, 1e-3
    config.chunk_size, config.checkpoint_every = 100, 500
  return config

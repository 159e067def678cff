"""DiKL on DW-4 (4 particles in 2-D), EGNN generator and score network.

``paper``: He et al. 2025's published settings; ``quick``: a 2-core CPU, budget under 30 minutes
(see docs/RESULTS.md for the measured time).
"""

from configs import dikl_base


def get_config(preset: str = "paper"):
  config = dikl_base.base_config("dw", preset)
  config.beta_start, config.beta_end = 1e-6, 0.05
  config.generator_hidden, config.generator_layers = 144, 8
  config.score_hidden, config.score_layers = 144, 4
  config.latent_std = 1.0
  config.num_iterations = 2000
  config.batch_size = config.score_batch_size = 1024
  config.generator_lr, config.score_lr = 5e-4, 1e-4
  config.score_steps = 100
  config.num_importance, config.mala_steps = 20, 50
  config.annealing_steps = 10  # the published `AIS_step: 10`
  config.adapt_step_size = True
  config.step_scale, config.posterior_std = 0.5, 0.3  # ours: no published equivalent
  config.weight = "one"
  config.chunk_size, config.checkpoint_every = 20, 200
  if preset == "quick":
    # Tuned before the paper preset took the published values: score-network inputs scaled by
    # 1.5, plain importance sampling.
    config.data_std, config.annealing_steps = 1.5, 0
    # 12 000 iterations (9.5 minutes) bring the energy TVD under the specification's 0.25: 0.398
    # at 1500, 0.340 at 4000, 0.263 at 8000, 0.215 at 12 000 (docs/RESULTS.md).
    config.num_iterations = 12_000
    config.generator_hidden, config.generator_layers = 64, 3
    config.score_hidden, config.score_layers = 32, 3
    config.batch_size = config.score_batch_size = 256
    config.score_steps = 10
    config.mala_steps = 30
    config.generator_lr, config.score_lr = 1e-3, 1e-3
    # The decay settles the generator: distance TVD 0.174 -> 0.131 at 1500 iterations.
    config.generator_decay_iterations, config.generator_final_lr_fraction = 12_000, 0.05
  return config

"""ASBS (Liu et al. 2025) on DW-4 (4 particles in 2-D), EGNN control and corrector, harmonic prior.

``paper``: the published settings (``configs/adjoint_particles.py``; `experiment/dw4_asbs.yaml`
of the papers' code); ``quick``: a 2-core CPU, under 30 minutes.
"""

from configs import adjoint_particles


def get_config(preset: str = "paper"):
  config = adjoint_particles.base_config("dw", preset)
  del config.num_epochs  # replaced by stages
  config.sigma_max = 1.0
  config.num_steps = 199  # `nfe: 200`
  config.prior = "harmonic"  # or "dirac": X₀ = 0, which reduces ASBS to Adjoint Sampling
  config.prior_scale = 2.0  # `scale: 2`
  # `adj_num_epochs_per_stage: 200`, `ctr_num_epochs_per_stage: 20`; the published run stops
  # at epoch 5000 (`num_epochs`), inside the adjoint phase of stage 23.
  config.num_stages = 23
  config.adjoint_epochs = 200
  config.corrector_epochs = 20
  config.corrector_learning_rate = 1e-4
  config.corrector_hidden, config.corrector_num_layers = 128, 5
  if preset == "quick":
    # The published stages, 20 of them; 0.20 s per adjoint-matching and 0.17 s per
    # corrector-matching epoch on the 2-core CPU (shared with another job): about 15 minutes.
    config.num_stages = 20
    config.adjoint_epochs, config.corrector_epochs = 200, 20
    config.num_steps = 99
    config.hidden, config.num_layers = 32, 3
    config.corrector_hidden, config.corrector_num_layers = 32, 3
    config.n_paths, config.batch_size, config.n_inner_loop = 128, 128, 20
    config.learning_rate = config.corrector_learning_rate = 1e-3
    config.chunk_size, config.checkpoint_every = 10, 100
  return config

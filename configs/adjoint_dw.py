"""Adjoint Sampling (Havens et al. 2025) on DW-4 (4 particles in 2-D), EGNN control.

``paper``: the published settings (``configs/adjoint_particles.py``; `experiment/dw4_as.yaml`
and `scripts/dw4.sh` of the papers' code); ``quick``: a 2-core CPU, under 30 minutes.
"""

from configs import adjoint_particles


def get_config(preset: str = "paper"):
  config = adjoint_particles.base_config("dw", preset)
  config.sigma_max = 1.5  # scripts/dw4.sh runs `sigma_max=1.5` (the yaml's default is 2)
  config.num_steps = 199  # `nfe: 200`
  config.num_epochs = 5000
  if preset == "quick":
    # 0.17–0.25 s per epoch on the 2-core CPU (shared with another job): 11–17 minutes, and
    # about 1.5 minutes of evaluation with --reference.
    config.num_epochs = 4000
    config.num_steps = 99
    config.hidden, config.num_layers = 32, 3
    config.n_paths, config.batch_size, config.n_inner_loop = 128, 128, 20
    config.learning_rate = 1e-3
    config.chunk_size, config.checkpoint_every = 10, 100
  return config

"""Adjoint Sampling (Havens et al. 2025) on LJ-13 (13 particles in 3-D), EGNN control.

``paper``: the published settings (``configs/adjoint_particles.py``; `experiment/lj13_as.yaml`
and `scripts/lj13.sh` of the papers' code); ``quick``: a 2-core CPU, under 30 minutes.
"""

from configs import adjoint_particles


def get_config(preset: str = "paper"):
  config = adjoint_particles.base_config("lj", preset)
  config.sigma_max = 2.0
  config.num_steps = 999  # `nfe: 1000`
  config.num_epochs = 4000
  config.aligned_size = 500  # the aligned W2 of 2000 × 2000 LJ-13 pairs takes ~50 s a repeat
  if preset == "quick":
    # 2.1–2.5 s per epoch on the 2-core CPU (shared with another job): 18–21 minutes.
    config.num_epochs = 500
    config.num_steps = 99
    config.hidden, config.num_layers = 32, 3
    config.n_paths, config.batch_size, config.n_inner_loop = 128, 128, 20
    config.learning_rate = 1e-3
    config.chunk_size, config.checkpoint_every = 10, 50
  return config

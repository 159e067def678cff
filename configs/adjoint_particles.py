"""Fields shared by Adjoint Sampling and ASBS on particle systems (``configs/adjoint_dw.py``,
``adjoint_lj.py``, ``asbs_dw.py``, ``asbs_lj.py``).

The ``paper`` presets are the published configurations of the papers' code
(facebookresearch/adjoint_samplers, read at its initial commit a972860 through the public fork
BurgerAndreas/adjoint_samplers: ``configs/train.yaml``,
``configs/experiment/<target>_<method>.yaml``, ``configs/model/egnn.yaml``,
``scripts/<target>.sh``), field by field; docs/adjoint.md,
"Particle systems (DW-4, LJ-13)", lists the sources and what our code does differently. The
``quick`` presets fit a 2-core CPU in under 30 minutes.
"""

import ml_collections

PRESETS = ("paper", "quick")


def base_config(target: str, preset: str) -> ml_collections.ConfigDict:
  if preset not in PRESETS:
    raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
  config = ml_collections.ConfigDict()
  config.target = target
  config.preset = preset
  config.seed = 0
  # Base process dX = σ(t) P dW on the zero-centre-of-mass subspace, geometric schedule;
  # sigma_max and num_steps per target and method.
  config.sigma_min = 1e-3
  config.sigma_max = 1.0
  config.num_steps = 199  # Euler–Maruyama steps: `nfe` grid points, nfe − 1 steps
  # Training, per epoch: n_paths new paths into the buffer, then n_inner_loop Adam steps
  # (`resample_batch_size: 512`, `train_itr_per_epoch: 100`, `train_batch_size: 512`).
  config.num_epochs = 5000
  config.n_paths = 512
  config.n_inner_loop = 100
  config.batch_size = 512
  config.learning_rate = 1e-4
  config.buffer_size = 10_000
  config.ema_decay = 0.0  # the published code simulates with the trained parameters
  config.max_adjoint_norm = 100.0  # `max_grad_E_norm`: ∇E clipped per particle
  config.chunk_size = 10  # epochs per compiled call (progress is printed after each)
  config.checkpoint_every = 100  # epochs between checkpoints (a multiple of chunk_size)
  # Network f_θ(t, x): the shared EGNN (`hidden_nf: 128`, `n_layers: 5`). Each particle's
  # output is bounded softly at output_bound, the bound of the published EGNN's coordinate
  # updates, 15 (n − 1) (`tanh: True`, `coords_range` 15; adjoint.particles.ParticleField).
  config.hidden = 128
  config.num_layers = 5
  config.output_bound = 15.0 * ({"dw": 4, "lj": 13}[target] - 1)
  # Final samples and their evaluation against --reference (common.evaluation.protocol).
  config.num_samples = 2000  # `eval_batch_size: 2000`
  config.eval_size = 2000
  config.eval_repeats = 10
  config.aligned_size = 2000  # samples per set of the aligned W2
  return config

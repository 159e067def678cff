"""Fields shared by the DiKL configurations (``configs/dikl_<target>.py``).

Each target's ``get_config(preset)`` starts from ``base_config`` and sets its values for the
``paper`` preset or the ``quick`` one (a 2-core CPU within its stated budget). The paper presets
are the published configurations (He et al. 2025; ``DiKL/configs/<target>.yaml`` of
jiajunhe98/DiKL, read at commit 11876a5), field by field; where our code has no equivalent
(e.g. the posterior MALA steps, which we scale to the posterior's width), it keeps its own:
docs/dikl.md, "Paper presets against the published configurations", lists each difference.
``dikl.presets`` turns a configuration into the library's arguments.
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
  # VP kernel: β = linspace(beta_start, beta_end, num_levels), levels t = 1..num_levels − 1.
  config.beta_start = 1e-4
  config.beta_end = 0.7
  config.num_levels = 30
  # Generator (MLP for MoG/MW; EGNN for DW/LJ, latent of the target's dimension).
  config.generator_hidden = 400
  # MLP: hidden layers (the published `layer_num: 5` counts the output layer too); EGNN:
  # message-passing layers.
  config.generator_layers = 4
  config.latent_dim = 2  # MLP generators only
  config.latent_std = 1.0
  config.output_scale = 1.0  # MLP generators only: x = output_scale · MLP(z)
  # Score network (predicts ε; sees x_t / √(α² data_std² + σ²)).
  config.score_hidden = 400
  config.score_layers = 4
  config.num_frequencies = 8  # MLP score networks only
  config.data_std = 1.0  # 1: the raw x_t (α² + σ² = 1), as the published networks see it
  # Training.
  config.num_iterations = 100_000
  config.batch_size = 1024  # generator samples per generator step
  config.score_batch_size = 1024  # generator samples per iteration for the score steps
  config.score_steps = 50  # DSM steps per iteration
  config.generator_lr = 5e-4
  # > 0: the generator's learning rate decays along a cosine to generator_lr ·
  # generator_final_lr_fraction over this many iterations, then stays there (a constant step
  # leaves the generator jittering around its optimum). Not tied to num_iterations, so that a
  # resumed run with more iterations keeps the schedule.
  config.generator_decay_iterations = 0
  config.generator_final_lr_fraction = 1.0
  # > 0: the samples and generator.msgpack come from the exponential moving average
  # θ̄ ← d θ̄ + (1 − d) θ of the generator's iterates, d = generator_ema_decay (window about
  # 1/(1 − d) iterations): at a constant learning rate the last iterate jitters, and with it the
  # share of samples each mode gets. 0: the last iterate, as He et al. 2025.
  config.generator_ema_decay = 0.0
  config.score_lr = 1e-4
  # Global gradient-norm clip of both networks (the published code clips the generator only).
  config.grad_clip = 10.0
  config.weight = "inv_alpha"  # w(t): "one", "inv_alpha" (1/α_t), "inv_alpha_squared" (1/α_t²)
  # The DSM loss's weight per level, by the same names (normalised to mean one over the levels).
  config.score_weight = "one"
  # Posterior sampling for ŝ_d (dikl.posterior): n_is proposals, then MALA.
  config.num_importance = 10
  config.num_posterior_samples = 1  # posterior chains averaged per x_t (the paper: 1)
  config.mala_steps = 5
  config.annealing_steps = 0  # > 0: annealed importance sampling with this many tempered steps
  # Its temperatures: "linear" (b_k = k/K) or "geometric" from b_1 = min(1, (posterior_std·α/σ)²).
  config.annealing_schedule = "linear"
  config.adapt_step_size = False
  config.step_scale = 0.5  # initial MALA step = step_scale · min(σ²/α², posterior_std²)
  config.posterior_std = 1.0
  config.soft_core = False  # LJ-13 only: train on the soft-core energy
  # LJ-13 only: inside the posterior sampler, pair terms below this distance are the cubic
  # extrapolation of the pair term from there (He et al. 2025 use 0.75); 0 turns it off.
  config.cubic_below = 0.0
  # Loop and outputs.
  config.chunk_size = 100  # iterations per compiled call (a progress line after each)
  config.checkpoint_every = 1000  # iterations between checkpoints (rounded up to chunks)
  config.num_samples = 10_000  # final samples written to samples.npy
  return config

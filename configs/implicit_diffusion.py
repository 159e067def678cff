"""Defaults of Implicit Diffusion, §5.1 (reward training of Langevin processes).

The values are the published code's flags (google-deepmind/implicit_diffusion, ``main.py``);
``implicit_diffusion.main`` defines one absl flag per field with these defaults.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.rng_seed = 0
  config.bs = 1000  # particles
  config.bs_ref = 1  # fresh reference draws per step for the KL gradient
  config.steps = 5000
  config.gamma = 0.2  # Langevin step size
  config.eta = 0.1  # constant learning rate on theta
  config.lamb_kl = 0.0  # weight of the KL(reference || pi_theta) regulariser (paper's sign)
  config.ref_std = 2.0  # per-component std of the reference mixture (published: sig_sq=2.0)
  config.reward = "hard"  # "hard" (published) or "smooth"
  config.theta_init = (1.5, 0.0, 1.5, 0.0, 1.5, 0.0)
  config.print_every = 500
  config.num_seeds = 1
  config.inner_steps = 1  # Langevin steps per theta update (1 = the single loop)
  config.warm_start = True  # nested loop only: continue the chain, or restart from N(0, I)
  config.exact_gradient = False  # run the exact gradient flow (quadrature) instead
  return config

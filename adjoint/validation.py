"""Flag checks shared by the Adjoint Sampling and ASBS entry points (``common.cli.check``)."""

import ml_collections

from common import cli


def check_sampler_config(config: ml_collections.ConfigDict) -> None:
  """The schedule, simulation, training and network fields common to both samplers."""
  for name in ("num_steps", "n_paths", "n_inner_loop", "batch_size", "buffer_size",
               "chunk_size", "num_samples"):
    cli.check(getattr(config, name) > 0, f"config.{name}", "must be positive")
  cli.check(0 < config.sigma_min < config.sigma_max, "config.sigma_min",
            "need 0 < sigma_min < sigma_max")
  cli.check(config.buffer_size >= config.n_paths, "config.buffer_size", "must be >= n_paths")
  cli.check(config.learning_rate > 0, "config.learning_rate", "must be positive")
  cli.check(config.well_scale > 0, "config.well_scale", "must be positive")
  cli.check(config.max_adjoint_norm is None or config.max_adjoint_norm > 0,
            "config.max_adjoint_norm", "must be positive or None")
  cli.check(len(config.hidden_sizes) > 0, "config.hidden_sizes", "needs at least one layer")

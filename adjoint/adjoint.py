"""Adjoint Sampling on a 2-D target: ``python -m adjoint.adjoint --energy=well|gmm``.

Trains the controlled SDE for ``config.num_epochs`` epochs, draws ``config.num_samples`` samples
and writes ``<file_path>/<expe_name>/``: config.json, checkpoints/ (every
``config.checkpoint_every`` epochs; ``--resume`` continues from the latest), hist_{loss,mean,
std}.npy, samples.npy (in the target's original coordinates), metrics.json and adjoint.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np

from adjoint import adjoint_sampling
from adjoint import entry_points
from adjoint import targets
from common import cli

_CONFIG = cli.define_config(cli.config_file("adjoint"))
_FLAGS = entry_points.define_sampler_flags("adjoint")


def validate(config) -> None:
  """Every check before anything is created; a failure is one line and exit status 2."""
  entry_points.check_sampler_config(config)
  cli.check(config.num_epochs > 0, "config.num_epochs", "must be positive")


def main(argv):
  del argv
  config = _CONFIG.value
  validate(config)
  run = entry_points.start_run(_FLAGS, "adjoint", config)
  result = adjoint_sampling.train(run.key_train, config, run.target, manager=run.checkpoints)
  samples = adjoint_sampling.draw_samples(
      run.key_samples, result, run.target, adjoint_sampling.dirac_prior(run.target.dim),
      config.num_samples, config.num_steps)
  metrics = targets.sample_metrics(run.target, samples)
  # The analytic optimal control of the well is known; at s = 1 it is ~0 (the base process
  # already samples N(0, σ̄²)) and a relative error would be meaningless.
  if _FLAGS.energy.value == "well" and abs(config.well_scale - 1.0) > 1e-3:
    errors = adjoint_sampling.well_control_errors(result, config.well_scale, np.arange(1, 10) / 10)
    metrics.update({f"control_relative_error_t{t:.1f}": e for t, e in errors.items()})
  histories = {"loss": result.infos.loss, "mean": result.infos.sample_mean,
               "std": result.infos.sample_std}
  entry_points.finish_run(run, "adjoint", samples, histories, metrics, _START)


if __name__ == "__main__":
  cli.run(main)

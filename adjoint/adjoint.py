"""Adjoint Sampling on a 2-D target: ``python -m adjoint.adjoint --energy=well|gmm``.

Trains the controlled SDE for ``config.num_epochs`` epochs, draws ``config.num_samples`` samples
and writes ``<file_path>/<expe_name>/``: config.json, hist_{loss,mean,std}.npy, samples.npy (in
the target's original coordinates), metrics.json and adjoint.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
from ml_collections import config_flags
import numpy as np

from adjoint import adjoint_sampling
from adjoint import entry_points
from adjoint import paths
from adjoint import report
from adjoint import targets
from common import cli
from common import parallel

_CONFIG = config_flags.DEFINE_config_file("config", default=paths.config_file("adjoint"))
_FLAGS = entry_points.define_sampler_flags("adjoint")


def validate(config) -> None:
  """Every check before anything is created; a failure is one line and exit status 2."""
  entry_points.check_sampler_config(config)
  cli.check(config.num_epochs > 0, "config.num_epochs", "must be positive")


def main(argv):
  del argv
  parallel.use_all_cpu_cores()  # before the first array is made
  config = _CONFIG.value
  validate(config)
  folder = entry_points.output_folder(_FLAGS, "adjoint", config)

  target = targets.make_target(_FLAGS.energy.value, config)
  key_train, key_samples = jax.random.split(jax.random.key(config.seed))
  result = adjoint_sampling.train(key_train, config, target)
  samples = adjoint_sampling.draw_samples(
      key_samples, result, target, adjoint_sampling.dirac_prior(target.dim), config.num_samples,
      config.num_steps)
  metrics = targets.sample_metrics(target, samples)
  if _FLAGS.energy.value == "well":  # the analytic optimal control is known
    errors = adjoint_sampling.well_control_errors(result, config.well_scale, np.arange(1, 10) / 10)
    metrics.update({f"control_relative_error_t{t:.1f}": e for t, e in errors.items()})
  wall_time = time.perf_counter() - _START
  metrics["wall_time_s"] = wall_time
  histories = {"loss": result.infos.loss, "mean": result.infos.sample_mean,
               "std": result.infos.sample_std}
  png = report.write_2d_outputs(folder, "adjoint", target, samples, histories, metrics)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
  print(f"wrote {png}; wall time {time.perf_counter() - _START:.1f} s from process start")


if __name__ == "__main__":
  cli.run(main)

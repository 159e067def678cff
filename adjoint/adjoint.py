"""Adjoint Sampling on a 2-D target: ``python -m adjoint.adjoint --energy=well|gmm``.

Trains the controlled SDE for ``config.num_epochs`` epochs, draws ``config.num_samples`` samples
and writes ``<file_path>/<expe_name>/``: config.json, hist_{loss,mean,std}.npy, samples.npy (in
the target's original coordinates), metrics.json and adjoint.png.
"""

import time

_START = time.perf_counter()

from common import parallel

parallel.use_all_cpu_cores()

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
import jax
from ml_collections import config_flags

from adjoint import adjoint_sampling
from adjoint import paths
from adjoint import report
from adjoint import targets
from adjoint import validation
from common import cli

_CONFIG = config_flags.DEFINE_config_file("config", default=paths.config_file("adjoint"))
_ENERGY = flags.DEFINE_enum("energy", "gmm", list(targets.ENERGIES), "Target energy.")
_FILE_PATH = flags.DEFINE_string("file_path", "runs", "Parent folder of the outputs.")
_EXPE_NAME = flags.DEFINE_string("expe_name", None, "Output subfolder (default adjoint_<energy>).")


def validate(config) -> None:
  """Every check before anything is created; a failure is one line and exit status 2."""
  validation.check_sampler_config(config)
  cli.check(config.num_epochs > 0, "config.num_epochs", "must be positive")


def main(argv):
  del argv
  config = _CONFIG.value
  validate(config)
  energy = _ENERGY.value
  folder = cli.make_output_dir(_FILE_PATH.value, _EXPE_NAME.value or f"adjoint_{energy}")
  cli.write_config(folder, {"energy": energy, **config.to_dict()})

  target = targets.make_target(energy, config)
  key_train, key_samples = jax.random.split(jax.random.key(config.seed))
  result = adjoint_sampling.train(key_train, config, target)
  samples = adjoint_sampling.draw_samples(
      key_samples, result, target, adjoint_sampling.dirac_prior(target.dim), config.num_samples,
      config.num_steps)
  metrics = targets.sample_metrics(target, samples)
  wall_time = time.perf_counter() - _START
  metrics["wall_time_s"] = wall_time
  histories = {"loss": result.infos.loss, "mean": result.infos.sample_mean,
               "std": result.infos.sample_std}
  png = report.write_2d_outputs(folder, "adjoint", target, samples, histories, metrics)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
  print(f"wrote {png}; wall time {time.perf_counter() - _START:.1f} s from process start")


if __name__ == "__main__":
  cli.run(main)

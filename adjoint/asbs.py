"""ASBS on a 2-D target: ``python -m adjoint.asbs [--energy=gmm|well]``.

Alternates adjoint matching and corrector matching for ``config.num_stages`` stages, draws
``config.num_samples`` samples and writes ``<file_path>/<expe_name>/``: config.json,
hist_{loss,mean,std}.npy (per adjoint-matching epoch, stages in sequence),
hist_corrector_loss.npy (stages × corrector epochs), samples.npy (original coordinates),
metrics.json and asbs.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
from ml_collections import config_flags
import numpy as np

from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import entry_points
from adjoint import paths
from adjoint import report
from adjoint import targets
from common import cli
from common import parallel

_CONFIG = config_flags.DEFINE_config_file("config", default=paths.config_file("asbs"))
_FLAGS = entry_points.define_sampler_flags("asbs")


def validate(config) -> None:
  entry_points.check_sampler_config(config)
  for name in ("num_stages", "adjoint_epochs", "corrector_epochs"):
    cli.check(getattr(config, name) > 0, f"config.{name}", "must be positive")
  cli.check(config.prior in asbs_training.PRIORS, "config.prior",
            f"must be one of {asbs_training.PRIORS}")
  cli.check(len(config.prior_mean) == len(config.prior_variances), "config.prior_variances",
            "needs one variance per coordinate of prior_mean")
  cli.check(all(v > 0 for v in config.prior_variances), "config.prior_variances",
            "must be positive")
  cli.check(config.corrector_learning_rate > 0, "config.corrector_learning_rate",
            "must be positive")


def main(argv):
  del argv
  parallel.use_all_cpu_cores()  # before the first array is made
  config = _CONFIG.value
  validate(config)
  folder = entry_points.output_folder(_FLAGS, "asbs", config)

  target = targets.make_target(_FLAGS.energy.value, config)
  key_train, key_samples = jax.random.split(jax.random.key(config.seed))
  result = asbs_training.train(key_train, config, target)
  samples = adjoint_sampling.draw_samples(
      key_samples, result.training, target, asbs_training.make_prior(config, target.dim),
      config.num_samples, config.num_steps)
  metrics = targets.sample_metrics(target, samples)
  final_corrector = result.corrector_losses[:, -10:].mean(axis=1)
  metrics.update({f"corrector_loss_stage_{i + 1}": float(v) for i, v in enumerate(final_corrector)})
  metrics["wall_time_s"] = time.perf_counter() - _START
  infos = result.adjoint_infos
  histories = {"loss": infos.loss, "mean": infos.sample_mean, "std": infos.sample_std,
               "corrector_loss": result.corrector_losses}
  png = report.write_2d_outputs(folder, "asbs", target, samples, histories, metrics)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
  print(f"wrote {png}; wall time {time.perf_counter() - _START:.1f} s from process start")


if __name__ == "__main__":
  cli.run(main)

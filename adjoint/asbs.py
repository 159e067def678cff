"""ASBS on a 2-D target: ``python -m adjoint.asbs [--energy=gmm|well]``.

Alternates adjoint matching and corrector matching for ``config.num_stages`` stages, draws
``config.num_samples`` samples and writes ``<file_path>/<expe_name>/``: config.json,
checkpoints/ (``--resume`` continues from the latest), hist_{loss,mean,std}.npy (per
adjoint-matching epoch, stages in sequence), hist_corrector_loss.npy (stages × corrector
epochs), samples.npy (original coordinates), metrics.json and asbs.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position

from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import entry_points
from adjoint import targets
from common import cli

_CONFIG = cli.define_config(cli.config_file("asbs"))
_FLAGS = entry_points.define_sampler_flags("asbs")


def validate(config) -> None:
  entry_points.check_sampler_config(config)
  cli.check_positive(config, ("num_stages", "adjoint_epochs", "corrector_epochs",
                              "corrector_learning_rate", "corrector_hidden_sizes",
                              "prior_variances"))
  cli.check(config.prior in asbs_training.PRIORS, "config.prior",
            f"must be one of {asbs_training.PRIORS}")
  cli.check(len(config.prior_mean) == 2, "config.prior_mean", "needs 2 coordinates (2-D targets)")
  cli.check(len(config.prior_mean) == len(config.prior_variances), "config.prior_variances",
            "needs one variance per coordinate of prior_mean")


def main(argv):
  del argv
  config = _CONFIG.value
  validate(config)
  run = entry_points.start_run(_FLAGS, "asbs", config)
  result = asbs_training.train(run.key_train, config, run.target, manager=run.checkpoints)
  samples = adjoint_sampling.draw_samples(
      run.key_samples, result.training, run.target,
      asbs_training.make_prior(config, run.target.dim), config.num_samples, config.num_steps)
  metrics = targets.sample_metrics(run.target, samples)
  final_corrector = result.corrector_losses[:, -10:].mean(axis=1)
  metrics.update({f"corrector_loss_stage_{i + 1}": float(v) for i, v in enumerate(final_corrector)})
  infos = result.adjoint_infos
  histories = {"loss": infos.loss, "mean": infos.sample_mean, "std": infos.sample_std,
               "corrector_loss": result.corrector_losses}
  entry_points.finish_run(run, "asbs", samples, histories, metrics, _START)


if __name__ == "__main__":
  cli.run(main)

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
import jax
import optax

from adjoint import asbs_training
from adjoint import entry_points
from adjoint import targets
from common.infra import cli
from common.training import driver

_CONFIG = cli.define_config(cli.config_file("asbs"))
_FLAGS = entry_points.define_sampler_flags()


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
  dim = run.target.dim
  algorithm = asbs_training.asbs_sampler(
      control=entry_points.control_network(config, dim),
      corrector=asbs_training.corrector_network(
          dim=dim, hidden_sizes=config.corrector_hidden_sizes, activation=config.activation),
      target=run.target, corrector_optimizer=optax.adam(config.corrector_learning_rate),
      sample_prior=asbs_training.make_prior(config.prior, dim=dim, mean=config.prior_mean,
                                            variances=config.prior_variances),
      **entry_points.matching_kwargs(config))
  key_init, key_train = jax.random.split(run.key_train)
  done, state, histories = driver.restore(run.checkpoints, algorithm.init(key_init), "epoch")
  state, histories = asbs_training.train(
      algorithm, state, key_train, num_stages=config.num_stages,
      adjoint_epochs=config.adjoint_epochs, corrector_epochs=config.corrector_epochs,
      chunk_size=config.chunk_size, checkpoint_every=config.checkpoint_every,
      manager=run.checkpoints, done=done, histories=histories)
  samples = entry_points.draw_samples(
      run, algorithm, state.control.sampling_params, config.num_samples)
  metrics = targets.sample_metrics(run.target, samples)
  corrector_losses = histories["corrector_loss"].reshape(config.num_stages, -1)
  final_corrector = corrector_losses[:, -10:].mean(axis=1)
  metrics.update({f"corrector_loss_stage_{i + 1}": float(v) for i, v in enumerate(final_corrector)})
  outputs = {"loss": histories["adjoint_loss"], "mean": histories["adjoint_sample_mean"],
             "std": histories["adjoint_sample_std"], "corrector_loss": corrector_losses}
  entry_points.finish_run(run, "asbs", samples, outputs, metrics, _START)


if __name__ == "__main__":
  cli.run(main)

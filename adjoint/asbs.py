"""ASBS: ``python -m adjoint.asbs [--energy=gmm|well]`` on a 2-D target, or
``python -m adjoint.asbs --target=dw|lj [--preset=paper|quick] [--reference=R.npy]`` on a
particle system (DW-4, LJ-13; ``configs/asbs_<target>.py``).

Alternates adjoint matching and corrector matching for ``config.num_stages`` stages, draws
``config.num_samples`` samples and writes ``<file_path>/<expe_name>/``: config.json,
checkpoints/ (``--resume`` continues from the latest), hist_{loss,mean,std}.npy (per
adjoint-matching epoch, stages in sequence), hist_corrector_loss.npy (stages × corrector
epochs), samples.npy (original coordinates; particle systems with zero centre of mass),
metrics.json (with ``--reference``, every metric of ``common.evaluation.protocol``) and asbs.png
(particle systems: asbs_<target>.png).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import optax

from adjoint import asbs_training
from adjoint import cost
from adjoint import entry_points
from adjoint import particles
from adjoint import targets
from common.infra import cli
from common.training import driver

_CONFIG = cli.define_config(entry_points.config_file("asbs"))
_FLAGS = entry_points.define_sampler_flags()


def validate(config):
  """Every check before anything is created; returns the ``--reference`` samples, or None."""
  reference = entry_points.check_config(_FLAGS, config)
  cli.check_positive(config, ("num_stages", "adjoint_epochs", "corrector_epochs",
                              "corrector_learning_rate"))
  if entry_points.is_particle_run(_FLAGS):
    cli.check_positive(config, ("corrector_hidden", "corrector_num_layers", "prior_scale"))
    cli.check(config.prior in particles.PRIORS, "config.prior",
              f"must be one of {particles.PRIORS}")
    return reference
  cli.check_positive(config, ("corrector_hidden_sizes", "prior_variances"))
  cli.check(config.prior in asbs_training.PRIORS, "config.prior",
            f"must be one of {asbs_training.PRIORS}")
  cli.check(len(config.prior_mean) == 2, "config.prior_mean", "needs 2 coordinates (2-D targets)")
  cli.check(len(config.prior_mean) == len(config.prior_variances), "config.prior_variances",
            "needs one variance per coordinate of prior_mean")
  return reference


def _corrector_and_prior(config, target):
  """h_φ and the prior: EGNN and the harmonic (or Dirac) prior for a particle system; else an
  MLP and the Gaussian (or Dirac) prior."""
  if target.n_particles > 1:
    corrector = particles.corrector_network(
        n_particles=target.n_particles, hidden=config.corrector_hidden,
        num_layers=config.corrector_num_layers, output_bound=config.output_bound)
    return corrector, particles.make_prior(config.prior, n_particles=target.n_particles,
                                           dim=target.dim, scale=config.prior_scale)
  corrector = asbs_training.corrector_network(
      dim=target.dim, hidden_sizes=config.corrector_hidden_sizes, activation=config.activation)
  return corrector, asbs_training.make_prior(config.prior, dim=target.dim, mean=config.prior_mean,
                                             variances=config.prior_variances)


def main(argv):
  del argv
  config = _CONFIG.value
  reference = validate(config)
  run = entry_points.start_run(_FLAGS, "asbs", config)
  corrector, prior = _corrector_and_prior(config, run.target)
  algorithm = asbs_training.asbs_sampler(
      control=entry_points.control_network(config, run.target), corrector=corrector,
      target=run.target, corrector_optimizer=optax.adam(config.corrector_learning_rate),
      sample_prior=prior, **entry_points.matching_kwargs(config))
  key_init, key_train = jax.random.split(run.key_train)
  done, state, histories = driver.restore(run.checkpoints, algorithm.init(key_init), "epoch")
  state, histories = asbs_training.train(
      algorithm, state, key_train, num_stages=config.num_stages,
      adjoint_epochs=config.adjoint_epochs, corrector_epochs=config.corrector_epochs,
      chunk_size=config.chunk_size, checkpoint_every=config.checkpoint_every,
      manager=run.checkpoints, done=done, histories=histories)
  samples, sampling_time = entry_points.draw_samples(
      run, algorithm, state.control.sampling_params, config.num_samples)
  if entry_points.is_particle_run(_FLAGS):
    metrics = entry_points.particle_metrics(run.target, samples, reference, config)
  else:
    metrics = targets.sample_metrics(run.target, samples)
  metrics.update(cost.training_cost("asbs", config)._asdict(), sampling_time_s=sampling_time)
  corrector_losses = histories["corrector_loss"].reshape(config.num_stages, -1)
  final_corrector = corrector_losses[:, -10:].mean(axis=1)
  metrics.update({f"corrector_loss_stage_{i + 1}": float(v) for i, v in enumerate(final_corrector)})
  outputs = {"loss": histories["adjoint_loss"], "mean": histories["adjoint_sample_mean"],
             "std": histories["adjoint_sample_std"], "corrector_loss": corrector_losses}
  entry_points.finish_run(run, "asbs", samples, outputs, metrics, _START, reference)


if __name__ == "__main__":
  cli.run(main)

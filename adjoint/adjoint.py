"""Adjoint Sampling: ``python -m adjoint.adjoint --energy=well|gmm`` on a 2-D target, or
``python -m adjoint.adjoint --target=dw|lj [--preset=paper|quick] [--reference=R.npy]`` on a
particle system (DW-4, LJ-13; ``configs/adjoint_<target>.py``).

Trains the controlled SDE for ``config.num_epochs`` epochs, draws ``config.num_samples`` samples
and writes ``<file_path>/<expe_name>/``: config.json, checkpoints/ (every
``config.checkpoint_every`` epochs; ``--resume`` continues from the latest), hist_{loss,mean,
std}.npy, samples.npy (in the target's original coordinates; particle systems (N, n·k) with zero
centre of mass), metrics.json (with ``--reference``, every metric of
``common.evaluation.protocol``) and adjoint.png (particle systems: adjoint_<target>.png).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np

from adjoint import adjoint_sampling
from adjoint import cost
from adjoint import entry_points
from adjoint import targets
from common.infra import cli
from common.training import driver

_CONFIG = cli.define_config(entry_points.config_file("adjoint"))
_FLAGS = entry_points.define_sampler_flags()


def validate(config):
  """Every check before anything is created; a failure is one line and exit status 2.

  Returns the ``--reference`` samples, or None."""
  reference = entry_points.check_config(_FLAGS, config)
  cli.check(config.num_epochs > 0, "config.num_epochs", "must be positive")
  return reference


def _well_errors(config, control, params) -> dict:
  """The analytic optimal control of the well is known; at s = 1 it is ~0 (the base process
  already samples N(0, σ̄²)) and a relative error would be meaningless."""
  if entry_points.is_particle_run(_FLAGS) or _FLAGS.energy.value != "well" or abs(
      config.well_scale - 1.0) <= 1e-3:
    return {}
  errors = adjoint_sampling.well_control_errors(
      control.apply, params, entry_points.schedule(config), config.well_scale,
      np.arange(1, 10) / 10)
  return {f"control_relative_error_t{t:.1f}": e for t, e in errors.items()}


def main(argv):
  del argv
  config = _CONFIG.value
  reference = validate(config)
  run = entry_points.start_run(_FLAGS, "adjoint", config)
  control = entry_points.control_network(config, run.target)
  algorithm = adjoint_sampling.adjoint_sampler(
      control=control, target=run.target, **entry_points.matching_kwargs(config))
  key_init, key_train = jax.random.split(run.key_train)
  done, state, histories = driver.restore(run.checkpoints, algorithm.init(key_init), "epoch")
  state, histories = driver.train(
      algorithm.step, state, key_train, num_steps=config.num_epochs, chunk_size=config.chunk_size,
      checkpoint_every=config.checkpoint_every, manager=run.checkpoints, done=done,
      histories=histories, progress_fields=("loss",), label="epoch")
  samples, sampling_time = entry_points.draw_samples(run, algorithm, state.sampling_params,
                                                     config.num_samples)
  if entry_points.is_particle_run(_FLAGS):
    metrics = entry_points.particle_metrics(run.target, samples, reference, config)
  else:
    metrics = targets.sample_metrics(run.target, samples)
  metrics.update(cost.training_cost("adjoint", config)._asdict(), sampling_time_s=sampling_time)
  metrics.update(_well_errors(config, control, state.sampling_params))
  outputs = {"loss": histories["loss"], "mean": histories["sample_mean"],
             "std": histories["sample_std"]}
  entry_points.finish_run(run, "adjoint", samples, outputs, metrics, _START, reference)


if __name__ == "__main__":
  cli.run(main)

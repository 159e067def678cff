"""Adjoint Sampling on a 2-D target: ``python -m adjoint.adjoint --energy=well|gmm``.

Trains the controlled SDE for ``config.num_epochs`` epochs, draws ``config.num_samples`` samples
and writes ``<file_path>/<expe_name>/``: config.json, checkpoints/ (every
``config.checkpoint_every`` epochs; ``--resume`` continues from the latest), hist_{loss,mean,
std}.npy, samples.npy (in the target's original coordinates), metrics.json and adjoint.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np

from adjoint import adjoint_sampling
from adjoint import entry_points
from adjoint import targets
from common.infra import cli
from common.training import driver

_CONFIG = cli.define_config(cli.config_file("adjoint"))
_FLAGS = entry_points.define_sampler_flags()


def validate(config) -> None:
  """Every check before anything is created; a failure is one line and exit status 2."""
  entry_points.check_sampler_config(config)
  cli.check(config.num_epochs > 0, "config.num_epochs", "must be positive")


def main(argv):
  del argv
  config = _CONFIG.value
  validate(config)
  run = entry_points.start_run(_FLAGS, "adjoint", config)
  control = entry_points.control_network(config, run.target.dim)
  algorithm = adjoint_sampling.adjoint_sampler(
      control=control, target=run.target, **entry_points.matching_kwargs(config))
  key_init, key_train = jax.random.split(run.key_train)
  done, state, histories = driver.restore(run.checkpoints, algorithm.init(key_init), "epoch")
  state, histories = driver.train(
      algorithm.step, state, key_train, num_steps=config.num_epochs, chunk_size=config.chunk_size,
      checkpoint_every=config.checkpoint_every, manager=run.checkpoints, done=done,
      histories=histories, progress_fields=("loss",), label="epoch")
  samples = entry_points.draw_samples(run, algorithm, state.sampling_params, config.num_samples)
  metrics = targets.sample_metrics(run.target, samples)
  # The analytic optimal control of the well is known; at s = 1 it is ~0 (the base process
  # already samples N(0, σ̄²)) and a relative error would be meaningless.
  if _FLAGS.energy.value == "well" and abs(config.well_scale - 1.0) > 1e-3:
    errors = adjoint_sampling.well_control_errors(
        control.apply, state.sampling_params, entry_points.schedule(config), config.well_scale,
        np.arange(1, 10) / 10)
    metrics.update({f"control_relative_error_t{t:.1f}": e for t, e in errors.items()})
  outputs = {"loss": histories["loss"], "mean": histories["sample_mean"],
             "std": histories["sample_std"]}
  entry_points.finish_run(run, "adjoint", samples, outputs, metrics, _START)


if __name__ == "__main__":
  cli.run(main)

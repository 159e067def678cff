"""Flags, checks and the configuration's translation shared by the 2-D entry points
(``adjoint.adjoint``, ``adjoint.asbs``): the only code here that reads a configuration."""

import os
import time
from typing import NamedTuple

from absl import flags
import jax
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from adjoint import adjoint_sampling
from adjoint import report
from adjoint import schedules
from adjoint import targets
from common import types
from common.infra import cli
from common.infra import parallel
from common.networks import mlp
from common.targets import benchmarks
from common.training import checkpoint


class SamplerFlags(NamedTuple):
  energy: flags.FlagHolder
  run: cli.RunFlags


def define_sampler_flags() -> SamplerFlags:
  """``--energy`` and the run flags ``--file_path``, ``--expe_name`` (default
  ``<method>_<energy>``) and ``--resume``."""
  return SamplerFlags(
      flags.DEFINE_enum("energy", "gmm", list(targets.ENERGIES), "Target energy."),
      cli.define_run_flags(None))


# The populations split over the devices: simulated paths, minibatches, final samples.
_BATCH_FIELDS = ("n_paths", "batch_size", "num_samples")


class Run(NamedTuple):
  folder: str
  target: benchmarks.Target
  key_train: jax.Array
  key_samples: jax.Array
  checkpoints: ocp.CheckpointManager


# Fields that may change when a run is resumed: a longer run continues a shorter one.
RESUMABLE = ("num_epochs", "num_stages", "chunk_size", "num_samples")


def start_run(sampler_flags: SamplerFlags, method: str, config) -> Run:
  """After validation: one XLA device per core (as many as divide the batch sizes), the output
  folder with config.json, the target, the keys of training and of the final samples, and the
  checkpoints (emptied unless ``--resume``). (``common.infra.cli.run`` has already turned on the
  persistent compilation cache.)

  On other devices (GPUs, several hosts) a batch size that does not divide by their count is a
  flag error, raised before the folder is made.
  """
  sizes = {name: getattr(config, name) for name in _BATCH_FIELDS}
  parallel.use_all_cpu_cores(*sizes.values())  # before the first array is made
  for name, size in sizes.items():
    cli.check_batch_size(size, f"config.{name}")
  energy = sampler_flags.energy.value
  config_dict = {"energy": energy, **config.to_dict()}
  run_flags = sampler_flags.run
  name = run_flags.expe_name.value or f"{method}_{energy}"
  if run_flags.resume.value:
    checkpoint.check_resumable(os.path.join(run_flags.file_path.value, name), config_dict,
                               RESUMABLE)
  # Held before the checkpoint manager, which empties checkpoints/ unless resuming.
  folder = cli.make_output_dir(run_flags.file_path.value, name)
  cli.write_config(folder, config_dict)
  key_train, key_samples = jax.random.split(jax.random.key(config.seed))
  target = targets.make_target(
      energy, well_scale=config.well_scale, gmm_weights=config.gmm_weights,
      gmm_means=config.gmm_means, gmm_covariance_diagonals=config.gmm_covariance_diagonals)
  return Run(folder, target, key_train, key_samples,
             checkpoint.manager(folder, run_flags.resume.value))


def schedule(config: ml_collections.ConfigDict) -> schedules.GeometricSchedule:
  return schedules.GeometricSchedule(config.sigma_min, config.sigma_max)


def control_network(config: ml_collections.ConfigDict, dim: int) -> mlp.FourierTimeMLP:
  return adjoint_sampling.control_network(
      dim=dim, hidden_sizes=config.hidden_sizes, num_frequencies=config.num_frequencies,
      activation=config.activation)


def matching_kwargs(config: ml_collections.ConfigDict) -> dict:
  """The keyword arguments that ``adjoint_sampling.adjoint_sampler`` and
  ``asbs_training.asbs_sampler`` share, from the configuration."""
  return dict(schedule=schedule(config), optimizer=optax.adam(config.learning_rate),
              max_adjoint_norm=config.max_adjoint_norm, num_paths=config.n_paths,
              num_steps=config.num_steps, inner_steps=config.n_inner_loop,
              batch_size=config.batch_size, buffer_capacity=config.buffer_size,
              ema_decay=config.ema_decay)


def draw_samples(run: Run, algorithm: types.Sampler, params, num: int) -> np.ndarray:
  """``num`` samples of the trained sampler in the target's own coordinates, on the host."""
  sample = jax.jit(algorithm.sample, static_argnums=2)
  return parallel.to_host(sample(run.key_samples, params, num))


def finish_run(run: Run, method: str, samples, histories, metrics, start_time: float) -> None:
  """Writes the outputs (``adjoint.report``) and prints the metrics and the wall time."""
  run.checkpoints.close()
  metrics = {**metrics, "wall_time_s": time.perf_counter() - start_time}
  png = report.write_2d_outputs(run.folder, method, run.target, samples, histories, metrics)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
  print(f"wrote {png}; wall time {time.perf_counter() - start_time:.1f} s from process start")


def check_sampler_config(config: ml_collections.ConfigDict) -> None:
  """The schedule, simulation, training and network fields common to both samplers."""
  cli.check_positive(config, ("num_steps", "n_paths", "n_inner_loop", "batch_size", "buffer_size",
                              "chunk_size", "checkpoint_every", "num_samples",
                              "hidden_sizes"))
  cli.check_non_negative(config, ("num_frequencies",))
  cli.check(0 < config.sigma_min < config.sigma_max, "config.sigma_min",
            "need 0 < sigma_min < sigma_max")
  cli.check(config.buffer_size >= config.n_paths, "config.buffer_size", "must be >= n_paths")
  cli.check_positive(config, ("learning_rate", "well_scale"))
  cli.check(config.max_adjoint_norm is None or config.max_adjoint_norm > 0,
            "config.max_adjoint_norm", "must be positive or None")
  cli.check(config.activation in mlp.ACTIVATIONS, "config.activation",
            f"must be one of {sorted(mlp.ACTIVATIONS)}")
  cli.check(0.0 <= config.ema_decay < 1.0, "config.ema_decay", "must be in [0, 1)")
  _check_gmm_fields(config)


def _check_gmm_fields(config: ml_collections.ConfigDict) -> None:
  """K positive weights, K 2-D means and K positive 2-D covariance diagonals."""
  cli.check_positive(config, ("gmm_weights",))
  num = len(config.gmm_weights)
  for name in ("gmm_means", "gmm_covariance_diagonals"):
    rows = config[name]
    cli.check(isinstance(rows, (tuple, list)) and len(rows) == num and all(
        isinstance(row, (tuple, list)) and len(row) == 2
        and all(isinstance(v, (int, float)) for v in row) for row in rows),
              f"config.{name}", f"needs one pair of numbers per gmm_weights entry ({num})")
  cli.check(all(v > 0 for row in config.gmm_covariance_diagonals for v in row),
            "config.gmm_covariance_diagonals", "must be positive")

"""Flags, checks and the configuration's translation shared by the entry points
(``adjoint.adjoint``, ``adjoint.asbs``): the only code here that reads a configuration.

Two kinds of run: a 2-D target (``--energy=gmm|well``, ``configs/<method>.py``), or a particle
system (``--target=dw|lj``, ``configs/<method>_<target>.py`` with ``get_config(preset)``, the
preset chosen by ``--preset``, as ``dikl.train`` chooses its configuration).
"""

import os
import sys
import time
from typing import NamedTuple, Sequence

from absl import flags
import jax
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from adjoint import adjoint_sampling
from adjoint import particles
from adjoint import report
from adjoint import schedules
from adjoint import targets
from common import types
from common.evaluation import protocol
from common.infra import cli
from common.infra import compilation
from common.infra import parallel
from common.networks import mlp
from common.targets import benchmarks
from common.training import checkpoint
from configs import adjoint_particles


class SamplerFlags(NamedTuple):
  energy: flags.FlagHolder
  target: flags.FlagHolder
  preset: flags.FlagHolder
  reference: flags.FlagHolder
  run: cli.RunFlags


def define_sampler_flags() -> SamplerFlags:
  """``--energy`` (2-D), ``--target``, ``--preset`` and ``--reference`` (particle systems), and
  the run flags ``--file_path``, ``--expe_name`` (default ``<method>_<energy>``, or
  ``<method>_<target>_<preset>``) and ``--resume``."""
  return SamplerFlags(
      flags.DEFINE_enum("energy", "gmm", list(targets.ENERGIES),
                        "2-D target energy (runs without --target)."),
      flags.DEFINE_enum("target", None, list(particles.TARGETS),
                        "Particle system, configured by configs/<method>_<target>.py; replaces "
                        "--energy."),
      flags.DEFINE_enum("preset", "paper", list(adjoint_particles.PRESETS),
                        "Preset of configs/<method>_<target>.py (with --target)."),
      flags.DEFINE_string("reference", None,
                          "Reference samples .npy (N, dim) of --target: metrics.json then has "
                          "the evaluation protocol's metrics (common.evaluation.protocol)."),
      cli.define_run_flags(None))


def _command_line_value(argv: Sequence[str], name: str) -> str | None:
  """The value of ``--name=value`` or ``--name value`` in ``argv`` (the last one), or None."""
  value = None
  for i, arg in enumerate(argv):
    for prefix in (f"--{name}", f"-{name}"):
      if arg.startswith(prefix + "="):
        value = arg[len(prefix) + 1:]
      elif arg == prefix and i + 1 < len(argv):
        value = argv[i + 1]
  return value


def config_file(method: str, argv: Sequence[str] | None = None) -> str:
  """The default of ``--config``: ``configs/<method>.py``, or when the command line has
  ``--target=T`` (a particle system) ``configs/<method>_<T>.py:<--preset>``.

  Read from the command line before the flags are parsed, because ml_collections types the
  ``--config.<field>`` overrides against this default when the flag is defined: the overrides
  of a particle run name the fields of its own configuration. A bad ``--target`` or
  ``--preset`` falls back to a valid file and is reported by its flag.
  """
  argv = sys.argv[1:] if argv is None else argv
  target = _command_line_value(argv, "target")
  if target not in particles.TARGETS:
    return cli.config_file(method)
  preset = _command_line_value(argv, "preset")
  preset = preset if preset in adjoint_particles.PRESETS else adjoint_particles.PRESETS[0]
  return f"{cli.config_file(f'{method}_{target}')}:{preset}"


# The populations split over the devices: simulated paths, minibatches, final samples.
_BATCH_FIELDS = ("n_paths", "batch_size", "num_samples")


class Run(NamedTuple):
  folder: str
  target: benchmarks.Target
  key_train: jax.Array
  key_samples: jax.Array
  checkpoints: ocp.CheckpointManager


# Fields that may change when a run is resumed: a longer run continues a shorter one, and the
# evaluation of the final samples does not touch the training.
RESUMABLE = ("num_epochs", "num_stages", "chunk_size", "num_samples", "reference", "eval_size",
             "eval_repeats", "aligned_size")


def is_particle_run(sampler_flags: SamplerFlags) -> bool:
  return sampler_flags.target.value is not None


def make_target(sampler_flags: SamplerFlags, config: ml_collections.ConfigDict
                ) -> benchmarks.Target:
  """The particle system of ``--target``, or the 2-D target of ``--energy`` with the
  configuration's parameters."""
  if is_particle_run(sampler_flags):
    return benchmarks.get_target(sampler_flags.target.value)
  return targets.make_target(
      sampler_flags.energy.value, well_scale=config.well_scale, gmm_weights=config.gmm_weights,
      gmm_means=config.gmm_means, gmm_covariance_diagonals=config.gmm_covariance_diagonals)


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
  if is_particle_run(sampler_flags):
    config_dict = {"reference": sampler_flags.reference.value, **config.to_dict()}
    default_name = f"{method}_{config.target}_{config.preset}"
  else:
    config_dict = {"energy": sampler_flags.energy.value, **config.to_dict()}
    default_name = f"{method}_{sampler_flags.energy.value}"
  run_flags = sampler_flags.run
  name = run_flags.expe_name.value or default_name
  if run_flags.resume.value:
    checkpoint.check_resumable(os.path.join(run_flags.file_path.value, name), config_dict,
                               RESUMABLE)
  # Held before the checkpoint manager, which empties checkpoints/ unless resuming.
  folder = cli.make_output_dir(run_flags.file_path.value, name)
  cli.write_config(folder, config_dict)
  key_train, key_samples = jax.random.split(jax.random.key(config.seed))
  return Run(folder, make_target(sampler_flags, config), key_train, key_samples,
             checkpoint.manager(folder, run_flags.resume.value))


def schedule(config: ml_collections.ConfigDict) -> schedules.GeometricSchedule:
  return schedules.GeometricSchedule(config.sigma_min, config.sigma_max)


def control_network(config: ml_collections.ConfigDict, target: benchmarks.Target):
  """f_θ: an EGNN for a particle system, else the Fourier-time MLP."""
  if target.n_particles > 1:
    return particles.control_network(n_particles=target.n_particles, hidden=config.hidden,
                                     num_layers=config.num_layers,
                                     output_bound=config.output_bound)
  return adjoint_sampling.control_network(
      dim=target.dim, hidden_sizes=config.hidden_sizes, num_frequencies=config.num_frequencies,
      activation=config.activation, output=config.control_output, schedule=schedule(config))


def matching_kwargs(config: ml_collections.ConfigDict) -> dict:
  """The keyword arguments that ``adjoint_sampling.adjoint_sampler`` and
  ``asbs_training.asbs_sampler`` share, from the configuration."""
  return dict(schedule=schedule(config), optimizer=optax.adam(config.learning_rate),
              max_adjoint_norm=config.max_adjoint_norm, num_paths=config.n_paths,
              num_steps=config.num_steps, inner_steps=config.n_inner_loop,
              batch_size=config.batch_size, buffer_capacity=config.buffer_size,
              ema_decay=config.ema_decay)


def draw_samples(run: Run, algorithm: types.Sampler, params, num: int
                 ) -> tuple[np.ndarray, float]:
  """``num`` samples of the trained sampler in the target's own coordinates, on the host, and
  the seconds the draw takes once compiled (``sampling_time_s`` of the metrics)."""
  sample = jax.jit(algorithm.sample, static_argnums=2)
  samples, seconds = compilation.time_after_compiling(sample, run.key_samples, params, num)
  return parallel.to_host(samples), seconds


def particle_metrics(target: benchmarks.Target, samples: np.ndarray,
                     reference: np.ndarray | None, config: ml_collections.ConfigDict) -> dict:
  """Mean energy and the largest centre-of-mass offset; with a reference, every metric of the
  evaluation protocol (``common.evaluation.protocol.ALL_METRICS``) on subsamples of
  ``eval_size`` (fewer when either set is smaller: ``eval_size`` in the metrics says so)."""
  metrics = dict(protocol.target_metrics(target, samples, None))
  centres = samples.reshape(samples.shape[0], target.n_particles, -1).mean(axis=1)
  metrics["max_abs_centre_of_mass"] = float(np.max(np.abs(centres)))
  if reference is not None:
    size = min(config.eval_size, samples.shape[0], reference.shape[0])
    metrics.update(protocol.evaluate(
        samples, reference, target, names=protocol.ALL_METRICS, repeats=config.eval_repeats,
        size=size, aligned_size=min(config.aligned_size, size), seed=config.seed))
    metrics["eval_size"] = size
  return metrics


def finish_run(run: Run, method: str, samples, histories, metrics, start_time: float,
               reference: np.ndarray | None = None) -> None:
  """Writes the outputs (``adjoint.report``) and prints the metrics and the wall time."""
  run.checkpoints.close()
  metrics = {**metrics, "wall_time_s": time.perf_counter() - start_time}
  if run.target.n_particles > 1:
    png = report.write_particle_outputs(run.folder, method, run.target, samples, histories,
                                        metrics, reference)
  else:
    png = report.write_2d_outputs(run.folder, method, run.target, samples, histories, metrics)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
  print(f"wrote {png}; wall time {time.perf_counter() - start_time:.1f} s from process start")


def check_config(sampler_flags: SamplerFlags, config: ml_collections.ConfigDict
                 ) -> np.ndarray | None:
  """The checks both samplers share, for a 2-D target or a particle system; returns the
  ``--reference`` samples (loaded here, before anything is written), or None."""
  _check_sampler_fields(config)
  if not is_particle_run(sampler_flags):
    cli.check("target" not in config, "config",
              f"the configuration is for a particle system ({config.get('target')!r}): "
              "give --target")
    cli.check(sampler_flags.reference.value is None, "reference", "needs --target")
    cli.check(not sampler_flags.preset.present, "preset", "needs --target")
    cli.check_positive(config, ("hidden_sizes", "well_scale"))
    cli.check_non_negative(config, ("num_frequencies",))
    cli.check(config.activation in mlp.ACTIVATIONS, "config.activation",
              f"must be one of {sorted(mlp.ACTIVATIONS)}")
    cli.check(config.control_output in adjoint_sampling.CONTROL_OUTPUTS, "config.control_output",
              f"must be one of {adjoint_sampling.CONTROL_OUTPUTS}")
    _check_gmm_fields(config)
    return None
  target = sampler_flags.target.value
  cli.check(not sampler_flags.energy.present, "energy",
            "is for the 2-D targets; --target chooses a particle system")
  cli.check(config.get("target") == target, "config",
            f"the configuration is for target {config.get('target')!r}, not {target!r}")
  cli.check_positive(config, ("hidden", "num_layers", "output_bound", "eval_size",
                              "eval_repeats"))
  cli.check(config.aligned_size >= 2, "config.aligned_size", "must be at least 2")
  if sampler_flags.reference.value is None:
    return None
  return cli.load_samples(sampler_flags.reference.value, "reference",
                          benchmarks.get_target(target).dim)


def _check_sampler_fields(config: ml_collections.ConfigDict) -> None:
  """The schedule, simulation and training fields common to both samplers and both kinds."""
  cli.check_positive(config, ("num_steps", "n_paths", "n_inner_loop", "batch_size", "buffer_size",
                              "chunk_size", "checkpoint_every", "num_samples"))
  cli.check(0 < config.sigma_min < config.sigma_max, "config.sigma_min",
            "need 0 < sigma_min < sigma_max")
  cli.check(config.buffer_size >= config.n_paths, "config.buffer_size", "must be >= n_paths")
  cli.check_positive(config, ("learning_rate",))
  cli.check(config.max_adjoint_norm is None or config.max_adjoint_norm > 0,
            "config.max_adjoint_norm", "must be positive or None")
  cli.check(0.0 <= config.ema_decay < 1.0, "config.ema_decay", "must be in [0, 1)")


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

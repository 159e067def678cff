r"""Train a DiKL neural sampler (He et al. 2025) on MoG-40, MW-32, DW-4 or LJ-13.

    python -m dikl.train --target=dw                      # the paper preset
    python -m dikl.train --target=mog --preset=quick      # minutes on a laptop CPU
    python -m dikl.train --target=mog --preset=quick --method=rkl   # reverse-KL baseline
    python -m dikl.train --target=dw --preset=quick --resume        # continue from a checkpoint
    python -m dikl.train --target=mw --config.num_iterations=50     # override any config field

The configuration is ``configs/dikl_<target>.py`` with ``get_config(preset)`` (or any file given
by ``--config=path.py:preset``). Writes into ``<file_path>/<expe_name>/`` (default expe_name
``<method>_<target>_<preset>``, the configuration's preset): ``config.json``, ``checkpoints/``
(the training state every ``checkpoint_every`` iterations, ``common.training.checkpoint``),
``hist_*.npy``, ``generator.msgpack``, ``samples.npy`` (num_samples, dim), ``metrics.json`` and
``dikl_<target>.png``.
"""

import importlib
import os
import time

from absl import flags
import jax
import ml_collections
from ml_collections import config_flags
import numpy as np

from common.evaluation import protocol
from common.infra import cli
from common.infra import compilation
from common.infra import io
from common.infra import parallel
from common.targets import benchmarks as targets_lib
from common.training import checkpoint as checkpoint_lib
from common.training import driver
from configs import dikl_base
from dikl import checkpoint
from dikl import dikl
from dikl import posterior
from dikl import presets

_TARGET = flags.DEFINE_enum("target", None, list(targets_lib.NAMES), "Target.", required=True)
_PRESET = flags.DEFINE_enum("preset", "paper", list(dikl_base.PRESETS),
                            "Configuration preset of configs/dikl_<target>.py.")
_METHOD = flags.DEFINE_enum("method", "dikl", list(dikl.METHODS),
                            "dikl, or rkl: the reverse-KL baseline (smallest noise level only).")
# Without --config on the command line, the run's configuration is configs/dikl_<target>.py's
# get_config(--preset) (``_configuration``); this default only types the --config.<field>
# overrides, which every DiKL configuration shares (configs/dikl_base.py).
_CONFIG = cli.define_config(cli.config_file("dikl_mog"))
_RUN = cli.define_run_flags(None)
_REFERENCE = flags.DEFINE_string(
    "reference", None, "Reference samples .npy for the metrics (default: the exact sampler of "
    "mog/mw; none for dw/lj, which then report energies only).")

_POSITIVE = ("num_levels", "generator_hidden", "generator_layers", "latent_dim", "score_hidden",
             "score_layers", "num_iterations", "batch_size", "score_batch_size", "score_steps",
             "num_importance", "num_posterior_samples", "chunk_size", "checkpoint_every",
             "num_samples")
# Fields that may change when a run is resumed (they do not change the iterations' results).
_RESUMABLE = ("num_iterations", "chunk_size", "checkpoint_every", "num_samples", "reference")
_PROGRESS = ("generator_loss", "score_loss", "score_difference", "acceptance")


def _configuration() -> ml_collections.ConfigDict:
  """--config when given; else configs/dikl_<--target>.py for --preset, with the overrides."""
  if flags.FLAGS["config"].present:
    return _CONFIG.value
  config = importlib.import_module(f"configs.dikl_{_TARGET.value}").get_config(_PRESET.value)
  config.update_from_flattened_dict(config_flags.get_override_values(flags.FLAGS["config"]))
  return config


def _check_config(config: ml_collections.ConfigDict) -> None:
  cli.check(config.target == _TARGET.value, "config",
            f"the configuration is for target {config.target!r}, not {_TARGET.value!r}")
  cli.check_positive(config, _POSITIVE)
  for name in ("batch_size", "score_batch_size"):
    cli.check_batch_size(getattr(config, name), f"config.{name}")
  cli.check_non_negative(config, ("mala_steps", "num_frequencies", "annealing_steps"))
  cli.check(0 < config.beta_start <= config.beta_end < 1, "config.beta_start",
            "need 0 < beta_start <= beta_end < 1")
  cli.check(config.num_levels >= 2, "config.num_levels", "need at least 2 levels")
  cli.check_positive(config, ("generator_lr", "score_lr", "grad_clip", "data_std", "latent_std",
                              "step_scale", "posterior_std", "output_scale"))
  cli.check(config.generator_decay_iterations >= 0, "config.generator_decay_iterations",
            "must be non-negative")
  cli.check(0 <= config.generator_ema_decay < 1, "config.generator_ema_decay",
            "must be in [0, 1)")
  cli.check(0 < config.generator_final_lr_fraction <= 1, "config.generator_final_lr_fraction",
            "must be in (0, 1]")
  for field in ("weight", "score_weight"):
    cli.check(config[field] in dikl.WEIGHT_POWERS, f"config.{field}",
              f"must be one of {sorted(dikl.WEIGHT_POWERS)}")
  cli.check(config.annealing_schedule in posterior.ANNEALING_SCHEDULES,
            "config.annealing_schedule", f"must be one of {list(posterior.ANNEALING_SCHEDULES)}")
  cli.check(not config.soft_core or config.target == "lj", "config.soft_core",
            "is for the lj target only")
  cli.check(config.cubic_below >= 0, "config.cubic_below", "must be non-negative")
  cli.check(not config.cubic_below or config.target == "lj", "config.cubic_below",
            "is for the lj target only")


def _plot(folder, target, samples, reference, histories):
  from common.targets import particles  # pylint: disable=g-import-not-at-top
  from common.infra import plotting  # pylint: disable=g-import-not-at-top
  fig, axes = plotting.new_figure(3 if target.n_particles > 1 else 2)
  plotting.plot_curves(axes[0], {"DSM loss": histories["score_loss"],
                                 "‖w(s_φ − ŝ_d)‖²": histories["score_difference"]},
                       xlabel="iteration", title="training", logy=True)
  if target.name == "mog":
    axis = np.linspace(-50, 50, 200)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    density = np.exp(-np.asarray(jax.jit(jax.vmap(target.energy))(grid))).reshape(200, 200)
    plotting.plot_density_2d(axes[1], density, axis, points=samples, max_points=2000,
                             title="MoG-40: target and samples")
  elif target.name == "mw":
    series = {"model": samples[:, 0]}
    if reference is not None:
      series["reference"] = reference[:, 0]
    plotting.plot_histograms(axes[1], series, edges=np.linspace(-3, 3, 81), xlabel="x₀",
                             title="MW-32: first coordinate")
  else:
    batch_energy = jax.jit(jax.vmap(target.energy))
    energies = {"model": np.asarray(batch_energy(samples))}
    dists = {"model": np.asarray(particles.pair_distances(samples, target.n_particles))}
    if reference is not None:
      energies["reference"] = np.asarray(batch_energy(reference))
      dists["reference"] = np.asarray(particles.pair_distances(reference, target.n_particles))
    low, high = np.percentile(energies.get("reference", energies["model"]), [0.5, 99.5])
    plotting.plot_histograms(axes[1], energies, edges=np.linspace(low, high, 81),
                             xlabel="energy", title=f"{target.name}: energy")
    plotting.plot_histograms(axes[2], dists, edges=np.linspace(0, 7, 81),
                             xlabel="pairwise distance", title=f"{target.name}: distances")
  return plotting.save_figure(fig, os.path.join(folder, f"dikl_{target.name}.png"))


def train_and_sample(config: ml_collections.ConfigDict, target: targets_lib.Target, method: str,
                     folder: str, resume: bool
                     ) -> tuple[np.ndarray, checkpoint_lib.History, float]:
  """Trains DiKL in ``folder`` (checkpoints, ``generator.msgpack``, ``hist_*.npy``); returns
  ``config.num_samples`` samples of the generator (its moving average), the histories and the
  seconds the draw takes once compiled."""
  sampler = presets.make_sampler(config, target, method)
  # Iteration i draws with fold_in(key_train, i) (``common.training.driver``).
  key_init, key_train, key_samples = jax.random.split(jax.random.key(config.seed), 3)
  manager = checkpoint_lib.manager(folder, resume)
  done, state, histories = driver.restore(manager, sampler.init(key_init), "iteration")
  state, histories = driver.train(
      sampler.step, state, key_train, num_steps=config.num_iterations,
      chunk_size=config.chunk_size, checkpoint_every=config.checkpoint_every, manager=manager,
      done=done, histories=histories, progress_fields=_PROGRESS, label="iteration")
  manager.close()
  io.save_histories(folder, histories)
  checkpoint.save_generator(folder, state.generator_ema)
  samples, seconds = compilation.time_after_compiling(sampler.sample, key_samples,
                                                       state.generator_ema, config.num_samples)
  return parallel.to_host(samples), histories, seconds


def main(argv) -> None:
  del argv
  start = time.perf_counter()
  config = _configuration()
  _check_config(config)
  target = targets_lib.get_target(_TARGET.value)
  reference = None
  if _REFERENCE.value is not None:
    reference = cli.load_samples(_REFERENCE.value, "reference", target.dim)
  elif target.sample is not None:
    reference = np.asarray(target.sample(jax.random.key(config.seed + 1), config.num_samples))
  # The configuration's preset, not --preset: --config=<file>:quick may come without it.
  expe_name = _RUN.expe_name.value or f"{_METHOD.value}_{target.name}_{config.preset}"
  config_dict = {"method": _METHOD.value, "reference": _REFERENCE.value, **config.to_dict()}
  if _RUN.resume.value:
    checkpoint_lib.check_resumable(os.path.join(_RUN.file_path.value, expe_name), config_dict,
                                   _RESUMABLE)
  folder = cli.make_output_dir(_RUN.file_path.value, expe_name)
  cli.write_config(folder, config_dict)

  samples, histories, sampling_time = train_and_sample(config, target, _METHOD.value, folder,
                                                       _RUN.resume.value)
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  results = protocol.target_metrics(target, samples, reference)
  results["wall_time_s"] = time.perf_counter() - start
  results["iterations"] = config.num_iterations
  # The training's cost in target energy evaluations, e.g. the budget of a classical baseline
  # (python -m common.reference --energy_evaluations=...).
  evaluations = presets.energy_evaluations(config)
  results["energy_evaluations"] = evaluations.total
  results["energy_evaluations_per_iteration"] = evaluations.per_iteration
  results["model_evaluations"] = presets.model_evaluations(config)
  results["sampling_time_s"] = sampling_time
  io.save_json(os.path.join(folder, "metrics.json"), results)
  png = _plot(folder, target, samples, reference, histories)
  print(" | ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                   for k, v in results.items()))
  print(f"wrote {png}; outputs in {folder}")


if __name__ == "__main__":
  cli.run(main)

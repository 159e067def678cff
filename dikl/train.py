r"""Train a DiKL neural sampler (He et al. 2025) on MoG-40, MW-32, DW-4 or LJ-13.

    python -m dikl.train --target=dw                      # the paper preset
    python -m dikl.train --target=mog --preset=quick      # minutes on a laptop CPU
    python -m dikl.train --target=mog --preset=quick --method=rkl   # reverse-KL baseline
    python -m dikl.train --target=dw --preset=quick --resume        # continue from a checkpoint
    python -m dikl.train --target=mw --config.num_iterations=50     # override any config field

The configuration is ``configs/dikl_<target>.py`` with ``get_config(preset)`` (or any file given
by ``--config=path.py:preset``). Writes into ``<file_path>/<expe_name>/`` (default expe_name
``<method>_<target>_<preset>``, the configuration's preset): ``config.json``, ``checkpoints/``
(the training state every ``checkpoint_every`` iterations, ``common.checkpoint``),
``hist_*.npy``, ``generator.msgpack``, ``samples.npy`` (num_samples, dim), ``metrics.json`` and
``dikl_<target>.png``.
"""

import os
import sys
import time

from absl import flags
import jax
import numpy as np

from common import checkpoint as checkpoint_lib
from common import cli
from common import energies as energies_lib
from common import io
from common import loops
from common import metrics as metrics_lib
from common import parallel
from common import targets as targets_lib
from configs import dikl_base
from dikl import checkpoint
from dikl import dikl

_CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def _argv_value(name: str, default: str) -> str:
  """A flag's value read from sys.argv before absl parses it (it picks the default config)."""
  args = sys.argv[1:]
  for i, arg in enumerate(args):
    if arg.startswith(f"--{name}="):
      return arg.split("=", 1)[1]
    if arg == f"--{name}" and i + 1 < len(args):
      return args[i + 1]
  return default


def _default_config() -> str:
  target = _argv_value("target", "mog")
  preset = _argv_value("preset", "paper")
  target = target if target in targets_lib.NAMES else "mog"  # absl reports the bad value
  preset = preset if preset in dikl_base.PRESETS else "paper"
  return os.path.join(_CONFIG_DIR, f"dikl_{target}.py:{preset}")


_TARGET = flags.DEFINE_enum("target", None, list(targets_lib.NAMES), "Target.", required=True)
# Read from sys.argv by _default_config (the run uses the configuration's preset).
flags.DEFINE_enum("preset", "paper", list(dikl_base.PRESETS),
                  "Configuration preset of configs/dikl_<target>.py.")
_METHOD = flags.DEFINE_enum("method", "dikl", list(dikl.METHODS),
                            "dikl, or rkl: the reverse-KL baseline (smallest noise level only).")
_CONFIG = cli.define_config(_default_config())
_RESUME = flags.DEFINE_bool("resume", False,
                            "Continue from the latest checkpoint in <folder>/checkpoints.")
_REFERENCE = flags.DEFINE_string(
    "reference", None, "Reference samples .npy for the metrics (default: the exact sampler of "
    "mog/mw; none for dw/lj, which then report energies only).")
_FILE_PATH = flags.DEFINE_string("file_path", "runs", "Folder holding the experiment folders.")
_EXPE_NAME = flags.DEFINE_string(
    "expe_name", None, "Experiment folder (default <method>_<target>_<config.preset>).")

_POSITIVE = ("num_levels", "generator_hidden", "generator_layers", "latent_dim", "score_hidden",
             "score_layers", "num_iterations", "batch_size", "score_batch_size", "score_steps",
             "num_importance", "num_posterior_samples", "chunk_size", "checkpoint_every", "num_samples")
# Fields that may change when a run is resumed (they do not change the iterations' results).
_RESUMABLE = ("num_iterations", "chunk_size", "checkpoint_every", "num_samples", "reference")
HISTORY_NAMES = dikl.IterationInfo._fields


def _check_config(config) -> None:
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
  cli.check(config.annealing_schedule in dikl.ANNEALING_SCHEDULES, "config.annealing_schedule",
            f"must be one of {list(dikl.ANNEALING_SCHEDULES)}")
  cli.check(not config.soft_core or config.target == "lj", "config.soft_core",
            "is for the lj target only")
  cli.check(config.cubic_below >= 0, "config.cubic_below", "must be non-negative")
  cli.check(not config.cubic_below or config.target == "lj", "config.cubic_below",
            "is for the lj target only")


def _plot(folder, target, samples, reference, histories):
  from common import particles  # pylint: disable=g-import-not-at-top
  from common import plotting  # pylint: disable=g-import-not-at-top
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


def main(argv) -> None:
  del argv
  start = time.perf_counter()
  config = _CONFIG.value
  _check_config(config)
  target = targets_lib.get_target(_TARGET.value)
  reference = None
  if _REFERENCE.value is not None:
    reference = cli.load_samples(_REFERENCE.value, "reference", target.dim)
  elif target.sample is not None:
    reference = np.asarray(target.sample(jax.random.key(config.seed + 1), config.num_samples))
  # The configuration's preset, not --preset: --config=<file>:quick may come without it.
  expe_name = _EXPE_NAME.value or f"{_METHOD.value}_{target.name}_{config.preset}"
  config_dict = {"method": _METHOD.value, "reference": _REFERENCE.value, **config.to_dict()}
  folder = os.path.join(_FILE_PATH.value, expe_name)
  if _RESUME.value:
    checkpoint_lib.check_resumable(folder, config_dict, _RESUMABLE)
  folder = cli.make_output_dir(_FILE_PATH.value, expe_name)
  cli.write_config(folder, config_dict)

  energy_fn = None
  if config.soft_core or config.cubic_below:
    energy_fn = lambda x: energies_lib.lennard_jones_energy(
        x, target.n_particles, soft_core=config.soft_core, cubic_below=config.cubic_below or None)
  trainer = dikl.make_trainer(config, target, _METHOD.value, energy_fn)
  key_init, key_train, key_samples = jax.random.split(jax.random.key(config.seed), 3)
  state = trainer.init(key_init)
  histories = {name: np.zeros((0,), np.float32) for name in HISTORY_NAMES}
  manager = checkpoint_lib.manager(folder, _RESUME.value)
  _, state, histories = checkpoint_lib.resume(manager, state, "iteration", histories)

  def step(state):
    return trainer.iteration(jax.random.fold_in(key_train, state.iteration), state)

  done = int(state.iteration)
  progress = cli.Progress(max(config.num_iterations - done, 1), label="iteration")

  def report(steps_done, outputs):
    steps_done -= done  # progress of this process
    elapsed = time.perf_counter() - progress.start
    progress(steps_done, generator_loss=outputs.generator_loss[-1],
             score_loss=outputs.score_loss[-1], score_difference=outputs.score_difference[-1],
             acceptance=outputs.acceptance[-1],
             samples_per_s=steps_done * config.batch_size / elapsed)

  # Keys by fold_in(iteration) and checkpoints every checkpoint_every iterations from 0: a
  # resumed run replays the uninterrupted run's compiled calls with its keys, bit for bit.
  state = parallel.replicate(state)  # laid out as the loop returns it: one compilation
  state, histories = checkpoint_lib.train_in_blocks(
      loops.make_chunk_runner(step), state, manager, histories, num_steps=config.num_iterations,
      block_size=config.checkpoint_every, chunk_size=config.chunk_size, done=done,
      label="iteration", on_chunk=report)
  manager.close()

  io.save_histories(folder, histories)
  checkpoint.save_generator(folder, state.generator_ema)
  samples = parallel.to_host(dikl.sample(trainer.networks, state.generator_ema, key_samples,
                                         config.num_samples))
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  results = metrics_lib.target_metrics(target, samples, reference)
  results["wall_time_s"] = time.perf_counter() - start
  results["iterations"] = int(state.iteration)
  io.save_json(os.path.join(folder, "metrics.json"), results)
  png = _plot(folder, target, samples, reference, histories)
  print(" | ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                   for k, v in results.items()))
  print(f"wrote {png}; outputs in {folder}")


if __name__ == "__main__":
  cli.run(main)

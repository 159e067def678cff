"""``python -m reward_guidance.train``: the reward predictor μ_θ on noised digits.

Reads the labels of ``reward_guidance.fake_dataset`` from ``--dataset_dir`` and trains the
residual ConvNet of ``reward_guidance.predictor`` by MSE (Adam) on x_t with t drawn from the
sampler's DDIM timestep list (``predictor.reward_predictor``, run by ``common.training.driver``:
step i draws its minibatch and noise from ``fold_in(key, i)``). Writes
``<file_path>/<expe_name>/``: config.json (its reward and label fields are the dataset's),
checkpoints/ (every ``config.checkpoint_every`` steps; ``--resume`` continues from the
latest), predictor.msgpack (flax serialisation), hist_loss.npy, metrics.json (final loss, MSE on
the test digits' true rewards at t = 0 and at the middle noise level), loss.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax

from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import models as digit_models
from common.infra import cli
from common.infra import io
from common.infra import plotting
from common.training import checkpoint
from common.training import driver
from common.training import fitting
from reward_guidance import predictor
from reward_guidance import rewards

_CONFIG = cli.define_config(cli.config_file("reward_guidance"))
_RUN = cli.define_run_flags("reward_guidance_predictor")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", "runs/reward_guidance_dataset",
                                   "Output folder of reward_guidance.fake_dataset.")
# Fields of fake_dataset's config that describe the reward and labels; the training reads them
# from the dataset (reward.npz, labels.npy), so its config.json records the dataset's values.
_DATASET_FIELDS = ("reward", "reward_classifier_seed", "head_seed", "label_noise")


def _validate(config) -> tuple[np.ndarray, dict]:
  """Checks the configuration and the dataset folder; returns (labels, recorded config)."""
  cli.check_positive(config, ("train_steps", "batch_size", "learning_rate", "channels",
                              "num_blocks", "num_sampling_steps", "chunk_size",
                              "checkpoint_every"))
  cli.check(1000 % config.num_sampling_steps == 0, "config.num_sampling_steps",
            "must divide the DDPM's 1000 steps")
  cli.check_folder(config.model_dir, "config.model_dir")
  dataset_dir = _DATASET_DIR.value
  for name in ("reward.npz", "labels.npy", "metrics.json"):
    cli.check(os.path.isfile(os.path.join(dataset_dir, name)), "dataset_dir",
              f"no {name} in {dataset_dir}; run reward_guidance.fake_dataset first")
  labels = cli.load_array(os.path.join(dataset_dir, "labels.npy"), "dataset_dir",
                          (digits.NUM_TRAIN,))
  rewards.check_file(os.path.join(dataset_dir, "reward.npz"), "dataset_dir")
  cli.load_json(os.path.join(dataset_dir, "metrics.json"), "dataset_dir",
                ("reward_mean", "reward_std"))
  dataset_config = cli.load_json(os.path.join(dataset_dir, "config.json"), "dataset_dir",
                                 _DATASET_FIELDS)
  return labels, dict(config.to_dict(), dataset_dir=dataset_dir,
                      **{name: dataset_config[name] for name in _DATASET_FIELDS})


def _evaluate(network, params, reward, data, schedule, timesteps, seed, losses) -> dict:
  """Final loss; MSE of μ against the test digits' true rewards at t = 0 and mid-chain."""
  true_test = np.asarray(reward(jnp.asarray(data.x_test)))
  middle = int(timesteps[len(timesteps) // 2])
  noisy_test = ddpm.noise(schedule, jnp.asarray(data.x_test),
                          jnp.full(data.x_test.shape[:1], middle),
                          jax.random.normal(jax.random.key(seed + 1), data.x_test.shape))
  mse = lambda x: float(np.mean((np.asarray(network.apply(params, x)) - true_test) ** 2))
  return {"final_loss": float(losses[-100:].mean()), "test_mse_t0": mse(data.x_test),
          f"test_mse_t{middle}": mse(noisy_test), "test_reward_var": float(true_test.var()),
          "wall_time_s": time.perf_counter() - _START}


def main(argv):
  del argv
  config = _CONFIG.value
  labels, recorded = _validate(config)
  if _RUN.resume.value:
    checkpoint.check_resumable(_RUN.folder(), recorded, ("train_steps",))
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, recorded)
  # The predictor's folder carries the reward, so inference needs only this folder.
  io.copy_file(os.path.join(_DATASET_DIR.value, "reward.npz"), os.path.join(folder, "reward.npz"))
  io.copy_file(os.path.join(_DATASET_DIR.value, "metrics.json"),
               os.path.join(folder, "dataset_metrics.json"))
  manager = checkpoint.manager(folder, _RUN.resume.value)

  data, schedule = digits.load(), digit_models.ddpm_schedule()
  timesteps = jnp.asarray(ddpm.ddim_timesteps(config.num_sampling_steps, schedule.num_steps))
  network = predictor.ResConvNet(config.channels, config.num_blocks)
  algorithm = predictor.reward_predictor(network=network,
                                         optimizer=optax.adam(config.learning_rate),
                                         schedule=schedule, timesteps=timesteps)
  key_init, key_train = jax.random.split(jax.random.key(config.seed))
  done, state, histories = driver.restore(manager, algorithm.init(key_init))
  state, histories = driver.train(
      algorithm.step, state, key_train, num_steps=config.train_steps,
      chunk_size=config.chunk_size, checkpoint_every=config.checkpoint_every, manager=manager,
      done=done, histories=histories,
      batch_fn=fitting.row_sampler((data.x_train, labels), config.batch_size),
      progress_fields=("loss",))
  manager.close()
  io.save_params(os.path.join(folder, "predictor.msgpack"), state.params)

  reward = rewards.load(os.path.join(folder, "reward.npz"), config.model_dir)
  metrics = _evaluate(network, state.params, reward, data, schedule, timesteps, config.seed,
                      histories["loss"])
  io.save_histories(folder, {"loss": histories["loss"]})
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  fig, (ax,) = plotting.new_figure(1)
  plotting.plot_curves(ax, {"noised MSE": histories["loss"]}, ylabel="loss", logy=True,
                       title="reward predictor")
  plotting.save_figure(fig, os.path.join(folder, "loss.png"))
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
  cli.run(main)

"""``python -m reward_guidance.train``: the reward predictor μ_θ on noised digits.

Reads the labels of ``reward_guidance.fake_dataset`` from ``--dataset_dir`` and trains the
residual ConvNet of ``reward_guidance.predictor`` by MSE (Adam) on x_t with t drawn from the
sampler's DDIM timestep list. Writes ``<file_path>/<expe_name>/``: config.json (its reward and
label fields are the dataset's), checkpoints/ (every 1000 steps; ``--resume`` continues from the
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

from common import checkpoint
from common import cli
from common import ddpm
from common import digit_models
from common import digits
from common import fitting
from common import io
from common import plotting
from reward_guidance import rewards
from reward_guidance import predictor

_CONFIG = cli.define_config(cli.config_file("reward_guidance"))
_DATASET_DIR = flags.DEFINE_string("dataset_dir", "runs/reward_guidance_dataset",
                                   "Output folder of reward_guidance.fake_dataset.")
_FILE_PATH = flags.DEFINE_string("file_path", "runs", "Parent folder of the outputs.")
_EXPE_NAME = flags.DEFINE_string("expe_name", "reward_guidance_predictor", "Output subfolder.")
_RESUME = flags.DEFINE_bool("resume", False,
                            "Continue from the latest checkpoint in <folder>/checkpoints.")
# Fields of fake_dataset's config that describe the reward and labels; the training reads them
# from the dataset (reward.npz, labels.npy), so its config.json records the dataset's values.
_DATASET_FIELDS = ("reward", "reward_classifier_seed", "head_seed", "label_noise")


def main(argv):
  del argv
  config = _CONFIG.value
  cli.check_positive(config, ("train_steps", "batch_size", "learning_rate", "channels",
                              "num_blocks", "num_sampling_steps"))
  cli.check(1000 % config.num_sampling_steps == 0, "config.num_sampling_steps",
            "must divide the DDPM's 1000 steps")
  cli.check_folder(config.model_dir, "config.model_dir")
  for name in ("reward.npz", "labels.npy", "metrics.json"):
    cli.check(os.path.isfile(os.path.join(_DATASET_DIR.value, name)), "dataset_dir",
              f"no {name} in {_DATASET_DIR.value}; run reward_guidance.fake_dataset first")
  labels = cli.load_array(os.path.join(_DATASET_DIR.value, "labels.npy"), "dataset_dir",
                          (digits.NUM_TRAIN,))
  rewards.check_file(os.path.join(_DATASET_DIR.value, "reward.npz"), "dataset_dir")
  cli.load_json(os.path.join(_DATASET_DIR.value, "metrics.json"), "dataset_dir",
                ("reward_mean", "reward_std"))
  dataset_config = cli.load_json(os.path.join(_DATASET_DIR.value, "config.json"), "dataset_dir",
                                 _DATASET_FIELDS)
  data = digits.load()
  config_dict = dict(config.to_dict(), dataset_dir=_DATASET_DIR.value,
                     **{name: dataset_config[name] for name in _DATASET_FIELDS})
  if _RESUME.value:
    checkpoint.check_resumable(os.path.join(_FILE_PATH.value, _EXPE_NAME.value), config_dict,
                               ("train_steps",))
  folder = cli.make_output_dir(_FILE_PATH.value, _EXPE_NAME.value)
  cli.write_config(folder, config_dict)
  # The predictor's folder carries the reward, so inference needs only this folder.
  io.copy_file(os.path.join(_DATASET_DIR.value, "reward.npz"), os.path.join(folder, "reward.npz"))
  io.copy_file(os.path.join(_DATASET_DIR.value, "metrics.json"),
               os.path.join(folder, "dataset_metrics.json"))
  manager = checkpoint.manager(folder, _RESUME.value)

  model, schedule = predictor.network(config), digit_models.ddpm_schedule()
  timesteps = jnp.asarray(ddpm.ddim_timesteps(config.num_sampling_steps, schedule.num_steps))
  key_init, key_fit = jax.random.split(jax.random.key(config.seed))
  params = model.init(key_init, jnp.zeros((1, digits.DIM)))
  loss = lambda p, k, batch: predictor.noised_mse(model.apply, p, k, batch, schedule, timesteps)
  params, losses = fitting.fit(key_fit, params, loss, optax.adam(config.learning_rate),
                               (data.x_train, labels), batch_size=config.batch_size,
                               num_steps=config.train_steps, manager=manager)
  manager.close()
  io.save_params(os.path.join(folder, "predictor.msgpack"), params)

  reward = rewards.load(os.path.join(folder, "reward.npz"), config.model_dir)
  true_test = np.asarray(reward(jnp.asarray(data.x_test)))
  middle = int(timesteps[len(timesteps) // 2])
  noisy_test = ddpm.noise(schedule, jnp.asarray(data.x_test),
                          jnp.full(data.x_test.shape[:1], middle),
                          jax.random.normal(jax.random.key(config.seed + 1), data.x_test.shape))
  metrics = {
      "final_loss": float(losses[-100:].mean()),
      "test_mse_t0": float(np.mean((np.asarray(model.apply(params, data.x_test)) - true_test)**2)),
      f"test_mse_t{middle}": float(np.mean((np.asarray(model.apply(params, noisy_test))
                                            - true_test) ** 2)),
      "test_reward_var": float(true_test.var()),
      "wall_time_s": time.perf_counter() - _START,
  }
  io.save_histories(folder, {"loss": losses})
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  fig, (ax,) = plotting.new_figure(1)
  plotting.plot_curves(ax, {"noised MSE": losses}, ylabel="loss", logy=True,
                       title="reward predictor")
  plotting.save_figure(fig, os.path.join(folder, "loss.png"))
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
  cli.run(main)

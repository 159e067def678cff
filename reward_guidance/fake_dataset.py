"""``python -m reward_guidance.fake_dataset``: the labelled digits of the reward pipeline.

Ground-truth reward r(x) = wᵀφ(x) + b (``reward_guidance.rewards``: frozen classifier features and
a seeded random head, or the z-scored mean intensity), labels r(x) + N(0, σ²) for every training
digit. Writes ``<file_path>/<expe_name>/``: config.json, reward.npz (kind, w, b, head and
classifier seeds), rewards.npy and labels.npy (one per training digit), metrics.json (their mean
and std, used later to express targets in data-std units).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

import jax

from common.digits import data as digits
from common.digits import models as digit_models
from common.infra import cli
from common.infra import io
from reward_guidance import rewards

_CONFIG = cli.define_config(cli.config_file("reward_guidance"))
_RUN = cli.define_run_flags("reward_guidance_dataset", resume=False)


def main(argv):
  del argv
  config = _CONFIG.value
  cli.check(config.reward in rewards.KINDS, "config.reward", f"must be one of {rewards.KINDS}")
  cli.check(config.label_noise >= 0, "config.label_noise", "must be non-negative")
  cli.check_folder(config.model_dir, "config.model_dir")
  cli.check(config.reward_classifier_seed != 0 or config.reward != "classifier",
            "config.reward_classifier_seed", "seed 0 is the metric classifier; use another")
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, config.to_dict())
  data = digits.load()
  classifier = (digit_models.train_or_load_classifier(config.model_dir,
                                                      config.reward_classifier_seed)
                if config.reward == "classifier" else None)
  reward = rewards.make_reward(config.reward, config.head_seed, classifier, data.x_train)
  values, labels = rewards.noisy_labels(jax.random.key(config.seed), reward, data.x_train,
                                        config.label_noise)
  rewards.save(os.path.join(folder, "reward.npz"), reward, config.head_seed,
               config.reward_classifier_seed)
  io.save_npy(os.path.join(folder, "rewards.npy"), values)
  io.save_npy(os.path.join(folder, "labels.npy"), labels)
  metrics = {"reward_mean": float(values.mean()), "reward_std": float(values.std()),
             "label_mean": float(labels.mean()), "label_std": float(labels.std()),
             "reward_min": float(values.min()), "reward_max": float(values.max()),
             "wall_time_s": time.perf_counter() - _START}
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
  cli.run(main)

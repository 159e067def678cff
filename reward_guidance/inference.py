"""``python -m reward_guidance.inference --target=A --guidance=G --num_images=N``.

Guided DDIM (the predictor's ``num_sampling_steps`` steps, 50 by default) of the cached
unconditional digits DDPM with the reward predictor of ``--predictor_dir``
(``reward_guidance.guidance``). ``--target_units=std`` reads A as the dataset mean + A data-std.
Writes ``<file_path>/<expe_name>/``: config.json, samples.npy, metrics.json and
metrics.csv (mean ± std of the true reward, the predicted reward and their gap, raw and in
data-std units; classifier confidence, clfFD, off-manifold residual and the other digit metrics),
grid.png (each image with its true and predicted reward).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import flags
import jax
import numpy as np

from common.infra import cli
from common.infra import io
from reward_guidance import pipeline as pipeline_lib

_PREDICTOR_DIR = flags.DEFINE_string("predictor_dir", "runs/reward_guidance_predictor",
                                     "Output folder of reward_guidance.train.")
_TARGET = flags.DEFINE_float("target", 0.0, "Target reward A.")
_TARGET_UNITS = flags.DEFINE_enum("target_units", "reward", ["reward", "std"],
                                  "'std': A is in data-std units above the dataset mean.")
_GUIDANCE = flags.DEFINE_float("guidance", 0.0, "Guidance strength G (≥ 0).")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 300, "Images to draw.")
_BATCH_MEAN = flags.DEFINE_bool("batch_mean", False,
                                "Divide G by the batch size, as the published code does.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial noise.")
_RUN = cli.define_run_flags("reward_guidance_inference", resume=False)


def main(argv):
  del argv
  cli.check(_GUIDANCE.value >= 0, "guidance", "must be non-negative")
  cli.check(_NUM_IMAGES.value > 1, "num_images", "must be at least 2")
  cli.check_batch_size(_NUM_IMAGES.value, "num_images")
  cli.check(np.isfinite(_TARGET.value), "target", "must be finite")
  pipeline_lib.check_predictor_dir(_PREDICTOR_DIR.value, "predictor_dir")
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, cli.flag_values(
      ["predictor_dir", "target", "target_units", "guidance", "num_images", "batch_mean",
       "seed"]))
  pipeline = pipeline_lib.load(_PREDICTOR_DIR.value, _BATCH_MEAN.value)
  target = _TARGET.value
  if _TARGET_UNITS.value == "std":
    target = pipeline.reward_mean + target * pipeline.reward_std
  samples = np.asarray(pipeline.sample(jax.random.key(_SEED.value), np.float32(target),
                                       np.float32(_GUIDANCE.value), _NUM_IMAGES.value))
  metrics, true, predicted = pipeline_lib.score(pipeline, samples)
  metrics = dict(metrics, target=target, guidance=_GUIDANCE.value, seed=_SEED.value,
                 wall_time_s=time.perf_counter() - _START)
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  with io.atomic_path(os.path.join(folder, "metrics.csv")) as tmp, open(tmp, "w") as f:
    f.write(",".join(pipeline_lib.CSV_KEYS) + "\n"
            + pipeline_lib.csv_line(metrics, pipeline_lib.CSV_KEYS) + "\n")
  pipeline_lib.save_grid(os.path.join(folder, "grid.png"), samples, true, predicted,
                         f"target {target:.3f}, G = {_GUIDANCE.value:g}")
  print(" | ".join(f"{k} {metrics[k]:.4f}" for k in pipeline_lib.CSV_KEYS[3:]))
  print(f"wall time {metrics['wall_time_s']:.1f} s from process start")


if __name__ == "__main__":
  cli.run(main)

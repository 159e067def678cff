"""``python -m common.pretrain_digits``: trains (or loads) the digits DDPM and classifier.

Weights are cached in ``--model_dir`` (``common.digits.models``). Draws ``--num_samples`` digits
with the 1000-step ancestral sampler and writes ``<file_path>/<expe_name>/``: config.json,
samples.npy, metrics.json (clfFD and the other metrics of ``common.digits.metrics``, classifier
accuracy, wall time) and samples.png.
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import flags
import jax
import numpy as np

from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import metrics as digit_metrics
from common.digits import models as digit_models
from common.infra import cli
from common.infra import io
from common.infra import plotting

_MODEL_DIR = flags.DEFINE_string("model_dir", digit_models.DEFAULT_MODEL_DIR, "Cache of trained weights.")
_RUN = cli.define_run_flags("digits_ddpm", resume=False)
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", digits.NUM_TRAIN, "Digits to draw.")
_DDPM_STEPS = flags.DEFINE_integer("ddpm_steps", digit_models.DDPM_STEPS, "DDPM training steps.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the sampler.")


def main(argv):
  del argv
  cli.check(_NUM_SAMPLES.value > 1, "num_samples", "must be at least 2")
  cli.check(_DDPM_STEPS.value > 0, "ddpm_steps", "must be positive")
  cli.check_folder(_MODEL_DIR.value, "model_dir")
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, cli.flag_values(
      ["model_dir", "num_samples", "ddpm_steps", "seed"]))
  data = digits.load()
  evaluator = digit_metrics.Evaluator(
      digit_models.train_or_load_classifier(_MODEL_DIR.value), data)
  params = digit_models.train_or_load_ddpm(_MODEL_DIR.value, _DDPM_STEPS.value)
  key_init, key_noise = jax.random.split(jax.random.key(_SEED.value))
  x_init = jax.random.normal(key_init, (_NUM_SAMPLES.value, digits.DIM))
  sample = jax.jit(lambda k, x: ddpm.ancestral_sample(
      k, digit_models.eps_fn(params), digit_models.ddpm_schedule(), x))
  samples = np.asarray(sample(key_noise, x_init))
  metrics = dict(evaluator(samples), classifier_test_accuracy=evaluator.accuracy(
      data.x_test, data.y_test), wall_time_s=time.perf_counter() - _START)
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  fig, (ax,) = plotting.new_figure(1, panel_size=6.0)
  digits.plot_grid(ax, samples[:100], 10)
  plotting.save_figure(fig, os.path.join(folder, "samples.png"))
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
  cli.run(main)

"""Loading a trained reward predictor and running / scoring guided samples (inference, sweep)."""

import json
import os
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import metrics as digit_metrics
from common.digits import models as digit_models
from common.infra import io
from common.infra import parallel
from reward_guidance import guidance
from reward_guidance import predictor
from reward_guidance import rewards


CSV_KEYS = ["target", "guidance", "seed", "true_reward_mean", "true_reward_std",
            "predicted_reward_mean", "predicted_reward_std", "gap_mean", "gap_std",
            "true_reward_in_std", "confidence", "clf_fd_test", "off_manifold_residual"]


class Pipeline(NamedTuple):
  """Everything guided sampling needs, loaded from a predictor folder and the model cache."""
  predict: Callable[[jax.Array], jax.Array]
  reward: rewards.Reward
  reward_mean: float  # of the training digits' true rewards, for data-std units
  reward_std: float
  sample: Callable[..., jax.Array]  # (key, target, strength, num) -> (num, 64)
  evaluator: digit_metrics.Evaluator


def check_predictor_dir(folder: str, flag: str) -> None:
  """Checks the files ``load`` reads are there and readable (before any output is made);
  errors name ``--flag``, the flag that gave ``folder``."""
  from common.infra import cli  # pylint: disable=g-import-not-at-top
  for name in ("config.json", "predictor.msgpack", "reward.npz", "dataset_metrics.json"):
    cli.check(os.path.isfile(os.path.join(folder, name)), flag,
              f"no {name} in {folder}; run reward_guidance.train first")
  cli.load_json(os.path.join(folder, "config.json"), flag,
                ("model_dir", "ddpm_steps", "num_sampling_steps", "channels", "num_blocks",
                 "clip_denoised", "clip_output", "pca_dim"))
  cli.load_json(os.path.join(folder, "dataset_metrics.json"), flag,
                ("reward_mean", "reward_std"))
  cli.check_params_file(os.path.join(folder, "predictor.msgpack"), flag)
  rewards.check_file(os.path.join(folder, "reward.npz"), flag)


def load(folder: str, batch_mean: bool) -> Pipeline:
  """The pipeline of the predictor in ``folder`` (see ``reward_guidance.train``)."""
  with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
  with open(os.path.join(folder, "dataset_metrics.json")) as f:
    dataset = json.load(f)
  model = predictor.ResConvNet(config["channels"], config["num_blocks"])
  template = model.init(jax.random.key(0), jnp.zeros((1, digits.DIM)))
  params = io.load_params(os.path.join(folder, "predictor.msgpack"), template)
  ddpm_params = digit_models.train_or_load_ddpm(config["model_dir"], config["ddpm_steps"])
  schedule = digit_models.ddpm_schedule()
  sampler = guidance.guided_ddim(
      eps_fn=digit_models.eps_fn(ddpm_params), predictor_apply=model.apply, schedule=schedule,
      timesteps=ddpm.ddim_timesteps(config["num_sampling_steps"], schedule.num_steps),
      dim=digits.DIM, batch_mean=batch_mean,
      clip_x0=1.0 if config["clip_denoised"] else None)

  def sample(key, target, strength, num):
    samples = sampler.sample(key, guidance.GuidanceParams(params, target, strength), num)
    samples = jnp.clip(samples, -1.0, 1.0) if config["clip_output"] else samples
    return parallel.gather(samples)  # whole on every host, for the metrics and the files

  evaluator = digit_metrics.Evaluator(
      digit_models.train_or_load_classifier(config["model_dir"]), digits.load(),
      config["pca_dim"])
  return Pipeline(jax.jit(lambda x: model.apply(params, x)),
                  rewards.load(os.path.join(folder, "reward.npz"), config["model_dir"]),
                  dataset["reward_mean"], dataset["reward_std"],
                  jax.jit(sample, static_argnums=3), evaluator)


def score(pipeline: Pipeline, samples: np.ndarray) -> tuple[Mapping[str, float], np.ndarray,
                                                             np.ndarray]:
  """(metrics, true rewards, predicted rewards) of samples; rewards also in data-std units."""
  true = np.asarray(pipeline.reward(jnp.asarray(samples)), np.float64)
  predicted = np.asarray(pipeline.predict(jnp.asarray(samples)), np.float64)
  metrics = {}
  for name, values in (("true_reward", true), ("predicted_reward", predicted),
                       ("gap", predicted - true)):
    metrics[f"{name}_mean"], metrics[f"{name}_std"] = float(values.mean()), float(values.std())
  metrics["true_reward_in_std"] = (metrics["true_reward_mean"] - pipeline.reward_mean) / (
      pipeline.reward_std)
  metrics["predicted_reward_in_std"] = (metrics["predicted_reward_mean"]
                                        - pipeline.reward_mean) / pipeline.reward_std
  metrics["gap_in_std"] = metrics["gap_mean"] / pipeline.reward_std
  metrics.update(pipeline.evaluator(samples))
  return metrics, true, predicted


def save_grid(path: str, samples: np.ndarray, true: np.ndarray, predicted: np.ndarray,
              title: str, num: int = 48) -> str:
  """The first ``num`` samples, each captioned with its true reward r and predicted μ."""
  from common.infra import plotting  # pylint: disable=g-import-not-at-top
  fig, (ax,) = plotting.new_figure(1, panel_size=7.5)
  captions = [f"{r:.2f}|{m:.2f}" for r, m in zip(true[:num], predicted[:num])]
  digits.plot_grid(ax, samples[:num], 8, captions, fontsize=6)
  ax.set_title(f"{title}\ncaptions: true r | predicted μ", fontsize=9)
  return plotting.save_figure(fig, path)


def csv_line(metrics: Mapping[str, Any], keys: list[str]) -> str:
  return ",".join(f"{metrics[k]:.6g}" if isinstance(metrics[k], float) else str(metrics[k])
                  for k in keys)

"""DxMI on eight 2-D Gaussians: ``python -m dxmi.toy2d [--config.tau_entropy=0]``.

Trains a ``num_steps``-step sampler with DxMI, starting from the FastDPM-VAR reduction of a DDPM
pretrained with T = 1000 (default), from the plain baseline below (``--config.policy_init=plain``)
or from scratch (``--config.policy_init=scratch``), and, as the baseline, a plain DDPM with
T = ``num_steps``. DxMI follows (Yoon et al. 2024, Algorithm 1: time-dependent value V(x, t)
with V(·, T) the energy, running costs in the TD target). Writes ``<file_path>/<expe_name>/``:
config.json, hist_*.npy (per DxMI iteration), samples.npy (DxMI, (N, 2)), samples_start.npy
(DxMI's starting sampler), samples_plain_ddpm.npy (the baseline: a DDPM trained with
T = num_steps), metrics.json (sliced W2 of each against fresh data, AUC of −E = −V(·, T)
separating data from Uniform[−a, a]²) and dxmi_toy2d.png.
"""

import os
import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn import metrics as sk_metrics

from common.diffusion import ddpm
from common.evaluation import metrics
from common.infra import cli
from common.infra import io
from common.networks import mlp as networks
from common.networks import residual_mlp
from common.targets import gaussian_mixture
from common.training import driver
from common.training import fitting
from dxmi import entry
from dxmi import fastdpm
from dxmi import figures
from dxmi import policy as policy_lib

_CONFIG = cli.define_config(cli.config_file("dxmi_toy2d"))
_RUN = cli.define_run_flags("dxmi_toy2d", resume=False)


def validate(config) -> None:
  entry.check_algorithm_fields(config)
  cli.check_positive(config, ("num_modes", "pretrain_steps", "pretrain_batch", "num_eval",
                              "num_projections", "radius", "mode_std", "pretrain_lr",
                              "uniform_half_width", "plain_beta_end", "scratch_std", "width",
                              "num_blocks", "time_dim"))
  cli.check_non_negative(config, ("value_frequencies",))
  cli.check_batch_size(config.num_eval, "config.num_eval")
  cli.check(config.policy_init in ("plain", "scratch", "fastdpm"), "config.policy_init",
            "must be 'plain', 'scratch' or 'fastdpm'")
  cli.check(config.std_max >= 0, "config.std_max", "must be non-negative (0: no cap)")
  if config.std_max > 0 and config.policy_init == "scratch":
    cli.check(config.scratch_std < config.std_max, "config.scratch_std",
              "must lie below config.std_max")
  cli.check(config.plain_beta_end < 1, "config.plain_beta_end", "must be below 1")
  if config.std_max > 0 and config.policy_init != "scratch":
    largest = float(np.max(starting_steps(config).std))
    cli.check(largest < config.std_max, "config.std_max",
              f"must exceed the starting sampler's largest σ_t ({largest:.3f})")


def eight_gaussians(config) -> gaussian_mixture.GaussianMixture:
  angles = 2 * np.pi * np.arange(config.num_modes) / config.num_modes
  means = config.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  return gaussian_mixture.gaussian_mixture(
      np.ones(config.num_modes), means, np.full((config.num_modes, 2), config.mode_std**2))


def plain_ddpm_schedule(config) -> ddpm.DiscreteSchedule:
  return ddpm.linear_schedule(config.num_steps, 1e-4, config.plain_beta_end)


def starting_steps(config) -> fastdpm.ReducedSchedule:
  """The pretrained starting sampler's steps: the plain DDPM's or the FastDPM-VAR reduction."""
  if config.policy_init == "plain":
    return policy_lib.ancestral_steps(plain_ddpm_schedule(config))
  return fastdpm.var_schedule(config.num_steps, config.spacing)


def zero_output_layer(params: dict) -> dict:
  """Zeroes the last Dense layer of a ``residual_mlp.ResidualMLP``, so that the scratch policy's
  mean x + f(x, t) starts as the identity and its first samples are x_0 plus the steps' noise,
  spread over the plane rather than thrown wherever a random f points."""
  layers = params["params"]
  last = max((name for name in layers if name.startswith("Dense_")),
             key=lambda name: int(name.split("_")[1]))
  return {"params": {**layers, last: jax.tree.map(jnp.zeros_like, layers[last])}}


def energy_auc(energy: np.ndarray, energy_uniform: np.ndarray) -> float:
  """AUC of −E as a score separating data (positives) from uniform points (negatives)."""
  labels = np.concatenate([np.ones(len(energy)), np.zeros(len(energy_uniform))])
  return float(sk_metrics.roc_auc_score(labels, -np.concatenate([energy, energy_uniform])))


def pretrain(config, eps_net: residual_mlp.ResidualMLP, train_data: jax.Array, key: jax.Array,
             schedule: ddpm.DiscreteSchedule, label: str):
  """ε-network parameters fitted to ``train_data`` by the DDPM loss on ``schedule``."""
  key_init, key_fit = jax.random.split(key)
  params, _ = fitting.fit(
      key_fit, eps_net.init(key_init, train_data[:1], jnp.zeros((1,))),
      lambda p, k, batch: ddpm.eps_loss(eps_net.apply, p, schedule, k, batch[0]),
      optax.adam(config.pretrain_lr), (train_data,), batch_size=config.pretrain_batch,
      num_steps=config.pretrain_steps, label=label)
  return params


def starting_sampler(config, eps_net: residual_mlp.ResidualMLP, train_data: jax.Array,
                     plain_params, key: jax.Array) -> tuple[fastdpm.ReducedSchedule, dict]:
  """DxMI's starting steps and ε-network parameters: the plain DDPM, the FastDPM-VAR reduction
  of a DDPM pretrained with T = 1000, or from scratch (Algorithm 1: mean x + f(x, t) with f = 0,
  σ_t = scratch_std)."""
  if config.policy_init == "plain":
    return starting_steps(config), plain_params
  if config.policy_init == "fastdpm":
    return starting_steps(config), pretrain(config, eps_net, train_data, key,
                                            ddpm.linear_schedule(), "pretrain step")
  steps = config.num_steps
  last_std = config.scratch_std if config.learn_last_std else fastdpm.LAST_STEP_STD
  start = fastdpm.ReducedSchedule(
      timesteps=np.arange(steps, dtype=np.float64), x_coef=np.ones(steps),
      eps_coef=np.ones(steps), std=np.append(np.full(steps - 1, config.scratch_std), last_std),
      gamma_bar=np.full(steps, np.nan))
  return start, zero_output_layer(eps_net.init(key, train_data[:1], jnp.zeros((1,))))


def plain_samples(config, eps_net: residual_mlp.ResidualMLP, plain_params, key: jax.Array
                  ) -> np.ndarray:
  """``num_eval`` ancestral samples of the plain T = num_steps DDPM."""
  key_noise, key_init = jax.random.split(key)
  schedule = plain_ddpm_schedule(config)
  draw = jax.jit(lambda key, x: ddpm.ancestral_sample(
      key, lambda x, t: eps_net.apply(plain_params, x, jnp.full(x.shape[:1], t, jnp.float32)),
      schedule, x))
  return np.asarray(draw(key_noise, jax.random.normal(key_init, (config.num_eval, 2))))


def evaluate(config, mixture: gaussian_mixture.GaussianMixture, samples: dict[str, np.ndarray],
             energy, key_data: jax.Array, key_uniform: jax.Array) -> tuple[dict, np.ndarray]:
  """Sliced W2 of each sampler's samples against fresh data; the AUC of −E (data against
  Uniform[−a, a]²); returns (metrics, the data)."""
  data = np.asarray(gaussian_mixture.sample_gaussian_mixture(key_data, mixture, config.num_eval))
  uniform = np.asarray(jax.random.uniform(key_uniform, (config.num_eval, 2),
                                          minval=-config.uniform_half_width,
                                          maxval=config.uniform_half_width))
  result = {f"sliced_w2_{name}": metrics.sliced_wasserstein2(
      x, data, config.num_projections, config.seed) for name, x in samples.items()}
  result["energy_auc"] = energy_auc(np.asarray(energy(data)), np.asarray(energy(uniform)))
  result["sliced_w2_ratio_plain_over_dxmi"] = (
      result["sliced_w2_plain_ddpm"] / result["sliced_w2_dxmi"])
  return result, data


def main(argv) -> None:
  del argv
  config = _CONFIG.value
  folder = entry.start(config, _RUN, validate)
  keys = jax.random.split(jax.random.key(config.seed), 8)
  mixture = eight_gaussians(config)
  eps_net = residual_mlp.ResidualMLP(out_dim=2, width=config.width, num_blocks=config.num_blocks,
                                     time_dim=config.time_dim)
  train_data = gaussian_mixture.sample_gaussian_mixture(keys[0], mixture, 100_000)
  # The baseline: a plain DDPM trained directly with T = num_steps steps, β linear from 1e-4
  # to ``plain_beta_end`` (ᾱ_T ≈ 1e-3 at the default), sampled ancestrally.
  plain_params = pretrain(config, eps_net, train_data, keys[1], plain_ddpm_schedule(config),
                          "plain DDPM step")
  start, net_params = starting_sampler(config, eps_net, train_data, plain_params, keys[2])
  policy = policy_lib.make_policy(eps_net.apply, start, dim=2, std_max=config.std_max,
                                  learn_last_std=config.learn_last_std)
  value_net = networks.FourierTimeMLP(tuple(config.value_hidden), 1, config.value_frequencies)
  value_fn = lambda p, x, t: value_net.apply(p, t / config.num_steps, x)[..., 0]
  dxmi = entry.make_algorithm(config, policy, value_fn, running_cost_in_value=True)
  initial_params = policy_lib.init_sampler_params(policy, net_params, start.std)
  state = dxmi.init(keys[4], initial_params,
                    value_net.init(keys[3], jnp.zeros((1,)), train_data[:1]))

  state, histories = driver.train(
      dxmi.step, state, keys[5], num_steps=config.iterations, chunk_size=config.chunk_size,
      batch_fn=lambda key: (gaussian_mixture.sample_gaussian_mixture(key, mixture,
                                                                    config.batch_size),),
      progress_fields=entry.PROGRESS_FIELDS, label="iteration")
  infos = entry.infos(histories)

  # The starting and the fine-tuned sampler share their noise, so their scores differ by the
  # sampler only.
  eval_keys = jax.random.split(keys[6], 4)
  sample = jax.jit(dxmi.sample, static_argnums=2)
  samples = {"dxmi": np.asarray(sample(eval_keys[1], state.sampler_params, config.num_eval)),
             "start": np.asarray(sample(eval_keys[1], initial_params, config.num_eval)),
             "plain_ddpm": plain_samples(config, eps_net, plain_params, eval_keys[3])}
  energy = jax.jit(lambda x: value_fn(state.value_params, x,
                                      jnp.full((x.shape[0],), config.num_steps)))
  result, data = evaluate(config, mixture, samples, energy, eval_keys[0], eval_keys[2])
  result.update(final_std=np.asarray(infos.std[-1]), initial_std=np.asarray(start.std),
                mean_value_along_trajectory=np.asarray(infos.values[-100:].mean(0)),
                wall_time_s=time.perf_counter() - _START)

  io.save_histories(folder, histories)
  for name, suffix in (("dxmi", ""), ("start", "_start"), ("plain_ddpm", "_plain_ddpm")):
    io.save_npy(os.path.join(folder, f"samples{suffix}.npy"), samples[name])
  io.save_json(os.path.join(folder, "metrics.json"), result)
  png = figures.toy2d_summary(os.path.join(folder, "dxmi_toy2d.png"), data, samples["plain_ddpm"],
                              samples["start"], samples["dxmi"], energy,
                              config.uniform_half_width, infos)
  print(f"sliced W2: DxMI {result['sliced_w2_dxmi']:.4f}, plain {config.num_steps}-step DDPM "
        f"{result['sliced_w2_plain_ddpm']:.4f} (ratio "
        f"{result['sliced_w2_ratio_plain_over_dxmi']:.2f}), DxMI's start "
        f"{result['sliced_w2_start']:.4f} | energy AUC "
        f"{result['energy_auc']:.4f} | wall time {result['wall_time_s']:.1f} s")
  print(f"wrote {png}")


if __name__ == "__main__":
  cli.run(main)

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

from common import cli
from common import ddpm
from common import fastdpm
from common import fitting
from common import gaussian_mixture
from common import io
from common import metrics
from common import networks
from dxmi import algorithm
from dxmi import entry
from dxmi import figures
from dxmi import training

_FLAGS = entry.define_flags("dxmi_toy2d", "dxmi_toy2d")


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
    return algorithm.ancestral_steps(plain_ddpm_schedule(config))
  return fastdpm.var_schedule(config.num_steps, config.spacing)


def zero_output_layer(params: dict) -> dict:
  """Zeroes the last Dense layer of a ``ddpm.ResidualMLP``, so that the scratch policy's mean
  x + f(x, t) starts as the identity and its first samples are x_0 plus the steps' noise, spread
  over the plane rather than thrown wherever a random f points."""
  layers = params["params"]
  last = max((name for name in layers if name.startswith("Dense_")),
             key=lambda name: int(name.split("_")[1]))
  return {"params": {**layers, last: jax.tree.map(jnp.zeros_like, layers[last])}}


def energy_auc(energy: np.ndarray, energy_uniform: np.ndarray) -> float:
  """AUC of −E as a score separating data (positives) from uniform points (negatives)."""
  labels = np.concatenate([np.ones(len(energy)), np.zeros(len(energy_uniform))])
  return float(sk_metrics.roc_auc_score(labels, -np.concatenate([energy, energy_uniform])))


def main(argv) -> None:
  del argv
  config, folder = entry.start(_FLAGS, validate)
  keys = jax.random.split(jax.random.key(config.seed), 8)
  mixture = eight_gaussians(config)

  eps_net = ddpm.ResidualMLP(out_dim=2, width=config.width, num_blocks=config.num_blocks,
                             time_dim=config.time_dim)
  train_data = gaussian_mixture.sample_gaussian_mixture(keys[0], mixture, 100_000)

  def pretrain(key, schedule, label):
    key_init, key_fit = jax.random.split(key)
    params, _ = fitting.fit(
        key_fit, eps_net.init(key_init, train_data[:1], jnp.zeros((1,))),
        lambda p, k, batch: ddpm.eps_loss(eps_net.apply, p, schedule, k, batch[0]),
        optax.adam(config.pretrain_lr), (train_data,), batch_size=config.pretrain_batch,
        num_steps=config.pretrain_steps, label=label)
    return params

  # The baseline: a plain DDPM trained directly with T = num_steps steps, β linear from 1e-4
  # to ``plain_beta_end`` (ᾱ_T ≈ 1e-3 at the default), sampled ancestrally.
  plain_schedule = plain_ddpm_schedule(config)
  plain_params = pretrain(keys[1], plain_schedule, "plain DDPM step")

  # 1. DxMI's starting sampler: the plain DDPM above, from scratch (Algorithm 1: mean
  # x + f(x, t), σ_t = scratch_std) or the FastDPM-VAR reduction of a DDPM pretrained with
  # T = 1000.
  if config.policy_init != "scratch":
    start = starting_steps(config)
    net_params = (plain_params if config.policy_init == "plain"
                  else pretrain(keys[2], ddpm.linear_schedule(), "pretrain step"))
  else:
    steps = config.num_steps
    last_std = config.scratch_std if config.learn_last_std else fastdpm.LAST_STEP_STD
    start = fastdpm.ReducedSchedule(
        timesteps=np.arange(steps, dtype=np.float64), x_coef=np.ones(steps),
        eps_coef=np.ones(steps), std=np.append(np.full(steps - 1, config.scratch_std), last_std),
        gamma_bar=np.full(steps, np.nan))
    net_params = zero_output_layer(eps_net.init(keys[2], train_data[:1], jnp.zeros((1,))))

  # 2. The few-step sampler and the value network.
  policy = algorithm.make_policy(eps_net.apply, start, dim=2, std_max=config.std_max,
                                 learn_last_std=config.learn_last_std)
  value_net = networks.FourierTimeMLP(tuple(config.value_hidden), 1, config.value_frequencies)
  value_fn = lambda p, x, t: value_net.apply(p, t / config.num_steps, x)[..., 0]
  value_params = value_net.init(keys[3], jnp.zeros((1,)), train_data[:1])
  dxmi = algorithm.dxmi(policy, value_fn, entry.algorithm_config(config, True))
  initial_params = algorithm.init_sampler_params(policy, net_params, start.std)
  state = dxmi.init(keys[4], initial_params, value_params)

  # 3. Fine-tune.
  draw = lambda key: gaussian_mixture.sample_gaussian_mixture(key, mixture, config.batch_size)
  state, infos = training.run(keys[5], dxmi, state, draw, config.iterations, config.chunk_size)

  # 4. Evaluate against fresh data.
  sample = jax.jit(lambda params, key: algorithm.sample_trajectory(
      policy, params, key, config.num_eval)[-1])
  eval_keys = jax.random.split(keys[6], 4)
  data = np.asarray(gaussian_mixture.sample_gaussian_mixture(eval_keys[0], mixture,
                                                             config.num_eval))
  # The starting and the fine-tuned sampler share their noise (eval_keys[1]), so their scores
  # differ by the sampler only.
  samples_start = np.asarray(sample(initial_params, eval_keys[1]))
  key_plain_noise, key_plain_init = jax.random.split(eval_keys[3])
  samples_plain = np.asarray(jax.jit(lambda key, x: ddpm.ancestral_sample(
      key, lambda x, t: eps_net.apply(plain_params, x, jnp.full(x.shape[:1], t, jnp.float32)),
      plain_schedule, x))(key_plain_noise, jax.random.normal(key_plain_init,
                                                             (config.num_eval, 2))))
  samples = np.asarray(sample(state.sampler_params, eval_keys[1]))
  uniform = np.asarray(jax.random.uniform(eval_keys[2], (config.num_eval, 2),
                                          minval=-config.uniform_half_width,
                                          maxval=config.uniform_half_width))
  energy = jax.jit(lambda x: value_fn(state.value_params, x,
                                      jnp.full((x.shape[0],), config.num_steps)))
  sliced = lambda x: metrics.sliced_wasserstein2(x, data, config.num_projections, config.seed)
  result = {
      "sliced_w2_dxmi": sliced(samples),
      "sliced_w2_start": sliced(samples_start),
      "sliced_w2_plain_ddpm": sliced(samples_plain),
      "energy_auc": energy_auc(np.asarray(energy(data)), np.asarray(energy(uniform))),
      "final_std": np.asarray(infos.std[-1]),
      "initial_std": np.asarray(start.std),
      "mean_value_along_trajectory": np.asarray(infos.values[-100:].mean(0)),
  }
  result["sliced_w2_ratio_plain_over_dxmi"] = (
      result["sliced_w2_plain_ddpm"] / result["sliced_w2_dxmi"])
  result["wall_time_s"] = time.perf_counter() - _START

  io.save_histories(folder, {
      "energy_data": infos.energy_data, "energy_sample": infos.energy_sample,
      "td_loss": infos.td_loss, "policy_loss": infos.policy_loss, "values": infos.values,
      "std": infos.std})
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  io.save_npy(os.path.join(folder, "samples_start.npy"), samples_start)
  io.save_npy(os.path.join(folder, "samples_plain_ddpm.npy"), samples_plain)
  io.save_json(os.path.join(folder, "metrics.json"), result)
  png = figures.toy2d_summary(os.path.join(folder, "dxmi_toy2d.png"), data, samples_plain,
                              samples_start, samples, energy, config.uniform_half_width, infos)
  print(f"sliced W2: DxMI {result['sliced_w2_dxmi']:.4f}, plain {config.num_steps}-step DDPM "
        f"{result['sliced_w2_plain_ddpm']:.4f} (ratio "
        f"{result['sliced_w2_ratio_plain_over_dxmi']:.2f}), DxMI's start "
        f"{result['sliced_w2_start']:.4f} | energy AUC "
        f"{result['energy_auc']:.4f} | wall time {result['wall_time_s']:.1f} s")
  print(f"wrote {png}")


if __name__ == "__main__":
  cli.run(main)

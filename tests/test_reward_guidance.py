"""Reward-directed guidance, Part 1: the guidance term, G = 0, batch mean, the guided sampler and
the predictor's training as algorithms, the entry points."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from common.diffusion import ddpm
from common.networks import residual_mlp
from common.training import driver
from common.training import fitting
from reward_guidance import guidance
from reward_guidance import predictor


def test_guidance_term_is_exact_for_a_linear_predictor(x64):
  key_w, key_x = jax.random.split(jax.random.key(0))
  w = jax.random.normal(key_w, (64,), jnp.float64)
  x = jax.random.normal(key_x, (7, 64), jnp.float64)
  schedule = ddpm.linear_schedule()
  t, target, strength = 340, 1.3, 2.5
  scale = jnp.sqrt(1.0 - schedule.alpha_bars[t].astype(jnp.float64))
  expected = scale * strength * (x @ w - target)[:, None] * w[None, :]
  term, predicted = guidance.guidance_term(lambda z: z @ w, x, target, strength, scale)
  np.testing.assert_allclose(term, expected, rtol=1e-13, atol=1e-13)
  np.testing.assert_allclose(predicted, x @ w, rtol=1e-14)
  # Through the guided ε: ε̃ − ε̂ is the term, at the schedule's own √(1 − ᾱ_t).
  zero_eps = lambda z, _: jnp.zeros_like(z)
  guided = guidance.guided_eps_fn(zero_eps, lambda z: z @ w, schedule, target, strength)
  np.testing.assert_allclose(guided(x, t), expected, rtol=1e-6, atol=1e-12)


def test_batch_mean_scales_the_term_by_one_over_batch_size():
  net = predictor.ResConvNet(8, 1)
  for batch in (8, 5):
    x = jax.random.normal(jax.random.key(batch), (batch, 64))
    params = net.init(jax.random.key(1), x)
    predict = lambda z: net.apply(params, z)
    per_sample, _ = guidance.guidance_term(predict, x, 0.7, 3.0, 0.6)
    batch_mean, _ = guidance.guidance_term(predict, x, 0.7, 3.0, 0.6, batch_mean=True)
    if batch == 8:  # a power of two: dividing G by B is exact in floating point
      assert np.array_equal(np.asarray(batch_mean) * batch, np.asarray(per_sample))
    np.testing.assert_allclose(batch_mean, per_sample / batch, rtol=1e-6)


def test_zero_guidance_reproduces_unguided_ddim_bit_for_bit():
  eps_net, mu_net = residual_mlp.ResidualMLP(64, width=32, num_blocks=2), predictor.ResConvNet(8, 1)
  key_eps, key_mu, key_x = jax.random.split(jax.random.key(3), 3)
  eps_params = eps_net.init(key_eps, jnp.zeros((1, 64)), jnp.zeros(()))
  mu_params = mu_net.init(key_mu, jnp.zeros((1, 64)))
  eps_fn = lambda x, t: eps_net.apply(eps_params, x, t.astype(jnp.float32))
  predict = lambda x: mu_net.apply(mu_params, x)
  schedule = ddpm.linear_schedule()
  steps = jnp.asarray(ddpm.ddim_timesteps(20, 1000))
  x_init = jax.random.normal(key_x, (16, 64))
  unguided = jax.jit(lambda x: ddpm.ddim_sample(eps_fn, schedule, steps, x))(x_init)
  guided = jax.jit(lambda x, a, g: guidance.sample(eps_fn, predict, schedule, steps, x, a, g))
  assert np.array_equal(np.asarray(guided(x_init, 2.0, 0.0)), np.asarray(unguided))
  assert not np.array_equal(np.asarray(guided(x_init, 2.0, 5.0)), np.asarray(unguided))


def test_guided_sampler_steps_compose_to_its_sample():
  schedule = ddpm.linear_schedule()
  eps_fn = lambda x, t: 0.1 * x + 1e-4 * t
  sampler = guidance.guided_ddim(
      eps_fn=eps_fn, predictor_apply=lambda w, x: jnp.tanh(x) @ w, schedule=schedule,
      timesteps=ddpm.ddim_timesteps(5, schedule.num_steps), dim=4)
  params = guidance.GuidanceParams(jnp.arange(1.0, 5.0), jnp.float32(1.5), jnp.float32(3.0))
  state = sampler.init(jax.random.key(0), 8)
  timesteps = []
  for _ in range(5):
    state, info = jax.jit(sampler.step)(None, state, params)
    timesteps.append(int(info.timestep))
  assert timesteps == [800, 600, 400, 200, 0] and int(state.index) == 5
  np.testing.assert_allclose(state.x, sampler.sample(jax.random.key(0), params, 8), rtol=1e-5,
                             atol=1e-6)


def test_reward_predictor_learns_the_mean_intensity():
  images = jax.random.uniform(jax.random.key(0), (256, 64), minval=-1.0, maxval=1.0)
  labels = 5.0 * images.mean(axis=1)
  schedule = ddpm.linear_schedule()
  algorithm = predictor.reward_predictor(
      network=predictor.ResConvNet(8, 1), optimizer=optax.adam(3e-3), schedule=schedule,
      timesteps=jnp.zeros((1,), jnp.int32))  # t = 0: clean images, a learnable target
  key = jax.random.key(1)
  state, histories = driver.train(algorithm.step, algorithm.init(key), key, num_steps=150,
                                  chunk_size=50, batch_fn=fitting.row_sampler(
                                      (images, labels), 32), progress=False)
  loss = histories["loss"]
  assert loss.shape == (150,) and loss[-20:].mean() < 0.3 * loss[:20].mean()


def test_pipeline_end_to_end_writes_its_files(run_module, tmp_path):
  models, out = str(tmp_path / "models"), str(tmp_path / "runs")
  cheap = ["--config.ddpm_steps=20", f"--config.model_dir={models}"]
  done = run_module("reward_guidance.fake_dataset", f"--file_path={out}", *cheap)
  assert done.returncode == 0, done.stderr[-2000:]
  # Reward fields that differ from the dataset's: the training does not use them (the reward is
  # the dataset's reward.npz), so its config.json must record the dataset's.
  unused = ["--config.reward=intensity", "--config.head_seed=5", "--config.label_noise=0.3",
            "--config.reward_classifier_seed=2"]
  done = run_module("reward_guidance.train", f"--file_path={out}", *cheap, *unused,
                    f"--dataset_dir={out}/reward_guidance_dataset", "--config.train_steps=20",
                    "--config.channels=8", "--config.num_blocks=1",
                    "--config.num_sampling_steps=10")
  assert done.returncode == 0, done.stderr[-2000:]
  with open(os.path.join(out, "reward_guidance_predictor", "config.json")) as f:
    recorded = json.load(f)
  dataset = {"reward": "classifier", "head_seed": 0, "label_noise": 0.1,
             "reward_classifier_seed": 1}  # fake_dataset's defaults, used above
  assert {name: recorded[name] for name in dataset} == dataset
  done = run_module("reward_guidance.inference", f"--file_path={out}", "--target=1",
                    "--target_units=std", "--guidance=2", "--num_images=16",
                    f"--predictor_dir={out}/reward_guidance_predictor")
  assert done.returncode == 0, done.stderr[-2000:]
  folder = os.path.join(out, "reward_guidance_inference")
  for name in ("samples.npy", "metrics.json", "metrics.csv", "grid.png", "config.json"):
    assert os.path.isfile(os.path.join(folder, name)), name
  assert np.load(os.path.join(folder, "samples.npy")).shape == (16, 64)
  with open(os.path.join(folder, "metrics.json")) as f:
    metrics = json.load(f)
  assert np.isfinite(metrics["true_reward_mean"]) and np.isfinite(metrics["clf_fd_test"])
  bad = run_module("reward_guidance.inference", f"--file_path={out}", "--guidance=-1",
                   "--expe_name=bad", f"--predictor_dir={out}/reward_guidance_predictor")
  assert bad.returncode == 2 and "--guidance" in bad.stderr
  assert not os.path.exists(os.path.join(out, "bad"))

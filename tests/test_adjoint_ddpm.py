"""The 1-D DDPM / DDIM of Nakkiran et al. (2024) against closed forms, with the default config."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adjoint import nakkiran_ddpm
from common.networks import mlp
from common.training import driver
from configs import ddpm as ddpm_config


def _closed_form_std(setup, start, deterministic):
  """Std of the sampler's output when f = f* exactly (a linear recursion on the variance)."""
  variance, dt = nakkiran_ddpm.start_std(setup, start) ** 2, setup.dt
  for t in dt * np.arange(setup.num_steps, 0, -1):
    shrink = nakkiran_ddpm.optimal_denoiser(setup, 1.0, t)  # f*(x, t) = shrink · x
    if deterministic:
      lam = np.sqrt(t) / (np.sqrt(max(t - dt, 0.0)) + np.sqrt(t))
      variance *= (1.0 + lam * (shrink - 1.0)) ** 2
    else:
      variance = shrink**2 * variance + setup.sigma_q**2 * dt
  return np.sqrt(variance)


@pytest.fixture(scope="module")
def trained():
  config = ddpm_config.get_config()
  setup = nakkiran_ddpm.DiffusionSetup(config.target_variance, config.sigma_q, config.dt)
  network = mlp.FourierTimeMLP(
      tuple(config.hidden_sizes), 1, config.num_frequencies, config.activation)
  optimizer = optax.adam(optax.cosine_decay_schedule(
      config.learning_rate, config.num_epochs * config.steps_per_epoch))
  algorithm = nakkiran_ddpm.ddpm_training(
      network=network, setup=setup, optimizer=optimizer, steps_per_epoch=config.steps_per_epoch,
      batch_size=config.batch_size, num_monitor=1000, start=config.start)
  state, histories = driver.train(
      algorithm.step, algorithm.init(jax.random.key(0)), jax.random.key(1),
      num_steps=config.num_epochs, chunk_size=config.chunk_size, progress=False)
  return setup, network.apply, state.params, histories


def test_closed_forms_of_the_required_figures():
  setup = nakkiran_ddpm.DiffusionSetup(1.0, 1.0, 0.1)
  np.testing.assert_allclose(_closed_form_std(setup, "exact", False), 1.019, atol=5e-4)
  np.testing.assert_allclose(_closed_form_std(setup, "tutorial", False), 0.888, atol=5e-4)
  np.testing.assert_allclose(nakkiran_ddpm.optimal_denoiser(setup, 2.0, 0.5), 2.0 * 1.4 / 1.5)


def test_learned_denoiser_matches_closed_form(trained):
  setup, apply_fn, params, histories = trained
  assert histories["loss"][-1] < histories["loss"][0]
  xs = jnp.linspace(-3.0, 3.0, 61)[:, None]
  for t in setup.dt * np.arange(1, setup.num_steps + 1):
    learned = apply_fn(params, jnp.float32(t), xs)
    exact = nakkiran_ddpm.optimal_denoiser(setup, xs, t)
    assert float(jnp.max(jnp.abs(learned - exact)) / jnp.max(jnp.abs(exact))) < 0.02, t


@pytest.mark.parametrize("start, deterministic, expected", [
    ("exact", False, 1.019), ("tutorial", False, 0.888), ("exact", True, None)])
def test_sample_std(trained, start, deterministic, expected):
  setup, apply_fn, params, _ = trained
  if expected is None:  # DDIM: the value of the same recursion with f = f*, 0.938
    expected = _closed_form_std(setup, "exact", True)
  draws = nakkiran_ddpm.sample(
      jax.random.key(7), apply_fn, params, setup, 200_000, start, deterministic)
  np.testing.assert_allclose(np.std(draws), expected, atol=0.02)
  np.testing.assert_allclose(np.mean(draws), 0.0, atol=0.02)


def test_tutorial_ddim_is_song_ddim_and_converges_to_the_exact_map():
  """The tutorial's step x + λ(f* − x), λ = σ_t/(σ_{t−Δt} + σ_t), σ_t = σ_q√t, equals Song et al.'s
  DDIM step x̂₀ + (σ_{t−Δt}/σ_t)(x − x̂₀), x̂₀ = E[x₀ | x_t], so its 10-step std from N(0, 2) is
  DDIM's 0.938; with Δt → 0 it tends to the exact transport (std 1). The required ≈ 1.03 is the
  std of the iterate one step earlier, x at t = Δt (1.0321): a loop that stops before the last
  step."""
  def song_ddim_std(num_steps, steps_taken=None):
    dt, scale = 1.0 / num_steps, np.sqrt(2.0)
    for t in (dt * np.arange(num_steps, 0, -1))[:steps_taken]:
      x0_gain = 1.0 / (1.0 + t)  # E[x₀ | x_t] = x_t τ/(τ + t), τ = σ_q = 1
      scale *= x0_gain + np.sqrt(t - dt) / np.sqrt(t) * (1.0 - x0_gain)
    return scale

  setup = nakkiran_ddpm.DiffusionSetup(1.0, 1.0, 0.1)
  exact_f = lambda unused_params, t, x: nakkiran_ddpm.optimal_denoiser(setup, x, t)
  draws = nakkiran_ddpm.sample(jax.random.key(0), exact_f, None, setup, 200_000, deterministic=True)
  np.testing.assert_allclose(np.std(draws), song_ddim_std(10), atol=0.005)
  np.testing.assert_allclose(song_ddim_std(10), _closed_form_std(setup, "exact", True),
                             rtol=1e-12)
  np.testing.assert_allclose(song_ddim_std(10), 0.9383, atol=1e-4)
  np.testing.assert_allclose(song_ddim_std(10, steps_taken=9), 1.0321, atol=1e-4)
  np.testing.assert_allclose(song_ddim_std(10_000), 1.0, atol=2e-4)

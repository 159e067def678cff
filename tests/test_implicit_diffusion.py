"""Implicit Diffusion §5.1: estimators against exact values, the published run, the flows."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.targets import energies
from common.training import driver
from implicit_diffusion import algorithm as algo
from implicit_diffusion import reward as rewards

THETA0 = np.array([1.5, 0.0, 1.5, 0.0, 1.5, 0.0], np.float32)
# The published setting's values; agree with the erf closed form below to 1e-4.
PUBLISHED_R = [0.18863, 0.29820, 0.00439, 0.0, 0.00040, 0.02723]


def closed_form_component_rewards() -> np.ndarray:
  """Rᵢ for the hard reward: Gaussian products and one normal CDF, no quadrature."""
  tau, values = 20.0, []
  for c0, c1 in np.asarray(algo.CENTRES, np.float64):
    shrink = tau / (tau + 2)  # variance of N(c, 1) reweighted by exp(−(x − a)² / τ)
    bump0 = math.sqrt(shrink) * math.exp(-(c0 - 4.0) ** 2 / (tau + 2))
    bump1 = math.sqrt(shrink) * math.exp(-(c1 - 3.8) ** 2 / (tau + 2))
    mean0 = (tau * c0 + 2 * 4.0) / (tau + 2)
    positive = 0.5 * (1 + math.erf(mean0 / math.sqrt(2 * shrink)))
    values.append(bump0 * positive * bump1 / 2.5)
  return np.array(values)


@pytest.fixture(scope="module")
def hard_component_rewards():
  return algo.component_rewards(rewards.hard_reward)


def _algorithm(component_rewards, **kwargs):
  return algo.implicit_diffusion(reward_fn=rewards.hard_reward,
                                 component_rewards=component_rewards, theta_init=THETA0, **kwargs)


def _draw(num_particles=1000, num_reference=1, **unused):
  """The single loop's ``draw`` for the hyperparameters of ``_algorithm``."""
  return algo.single_loop_draw(num_particles=num_particles, num_reference=num_reference,
                               theta_init=THETA0, reference_std=2.0)


def _run(hard_component_rewards, steps, seeds=(0,), chunk=None, **kwargs):
  single_loop = kwargs.get("inner_steps", 1) == 1 and kwargs.get("warm_start", True)
  _, final, info = algo.run(_algorithm(hard_component_rewards, **kwargs), seeds, steps,
                            chunk or steps, draw=_draw(**kwargs) if single_loop else None)
  return final, info


def test_component_rewards_by_quadrature(hard_component_rewards):
  np.testing.assert_allclose(hard_component_rewards, closed_form_component_rewards(), atol=1e-5)
  np.testing.assert_allclose(hard_component_rewards, PUBLISHED_R, atol=1e-4)


def test_theta_gradient_of_the_potential_is_softmax_minus_responsibilities():
  x = jax.random.normal(jax.random.key(0), (50, 2)) * 3
  theta = jnp.array([0.2, -1.0, 0.5, 2.0, 0.0, -0.3])
  log_joint = jax.nn.log_softmax(theta) - 0.5 * jnp.sum((x[:, None] - algo.CENTRES) ** 2, -1)
  responsibilities = jax.nn.softmax(log_joint, axis=-1)
  np.testing.assert_allclose(algo.theta_gradients(x, theta),
                             jax.nn.softmax(theta) - responsibilities, atol=1e-6)


def test_reward_gradient_estimator_matches_the_exact_gradient_at_theta0(hard_component_rewards):
  samples = energies.sample_isotropic_mixture(jax.random.key(1), THETA0, algo.CENTRES, 1.0,
                                              1_000_000)
  estimate = algo.reward_gradient_estimate(jax.vmap(rewards.hard_reward)(samples),
                                           algo.theta_gradients(samples, jnp.asarray(THETA0)))
  v = np.asarray(jax.nn.softmax(THETA0), np.float64)
  exact = v * (hard_component_rewards - v @ hard_component_rewards)  # v_j (R_j − Σ vᵢRᵢ)
  np.testing.assert_allclose(estimate, exact, atol=1e-3)
  np.testing.assert_allclose(
      jax.grad(algo.exact_reward)(jnp.asarray(THETA0), jnp.asarray(hard_component_rewards,
                                                                   jnp.float32)),
      exact, atol=1e-6)


def test_kl_gradient_quadrature_matches_reference_draws():
  theta = jnp.array([-0.5, 2.0, 0.3, -0.4, 0.1, 1.0])
  flow = algo.exact_gradient_flow(component_rewards=np.zeros(6), theta_init=THETA0,
                                  learning_rate=1.0, kl_weight=1.0, reference_std=2.0)
  # With R = 0 and η = λ = 1 the step is θ − ∇_θ KL(ρ ‖ π_θ).
  quadrature_grad = theta - flow.step(None, theta)[0]
  draws = energies.sample_isotropic_mixture(jax.random.key(2), THETA0, algo.CENTRES, 2.0,
                                            1_000_000)
  monte_carlo = jnp.mean(algo.theta_gradients(draws, theta), axis=0)
  np.testing.assert_allclose(quadrature_grad, monte_carlo, atol=2e-3)


def test_one_update_conserves_the_sum_of_theta(hard_component_rewards):
  algorithm = _algorithm(hard_component_rewards, kl_weight=0.3, num_reference=7)
  state = algorithm.init(jax.random.key(5))
  new_state, info = algorithm.step(jax.random.key(6), state)
  given = algorithm.step(None, state, _draw(num_reference=7)(jax.random.key(6)))
  np.testing.assert_allclose(given[0].theta, new_state.theta, atol=1e-7)
  assert not np.allclose(new_state.theta, state.theta)
  np.testing.assert_allclose(new_state.theta.sum(), THETA0.sum(), atol=1e-5)
  assert info.theta.shape == (6,) and new_state.particles.shape == (1000, 2)
  assert algorithm.sample(jax.random.key(7), new_state.theta, 5).shape == (5, 2)


def test_default_run_reproduces_the_published_numbers(hard_component_rewards):
  _, info = _run(hard_component_rewards, 5000, chunk=500)
  reward, kl_grad, theta = info.reward[:, 0], info.kl_grad_norm[:, 0], info.theta[:, 0]
  assert abs(reward[0] - 0.0644) <= 1e-3
  assert abs(kl_grad[0] - 0.679) <= 1e-3
  np.testing.assert_allclose(theta[-1], [1.9469, 5.7503, -0.5785, -1.0246, -0.7087, -0.8854],
                             atol=1e-2)
  np.testing.assert_allclose(theta.sum(axis=1), 4.5, atol=1e-4)
  assert 0.288 <= reward[-500:].mean() <= 0.293
  assert 0.293 <= info.exact_reward[-1, 0] <= 0.295


def test_seeds_run_in_parallel_match_separate_runs(hard_component_rewards):
  _, together = _run(hard_component_rewards, 30, seeds=(0, 1, 2))
  _, alone = _run(hard_component_rewards, 30, seeds=(1,))
  np.testing.assert_allclose(together.theta[:, 1], alone.theta[:, 0], atol=1e-6)
  assert not np.allclose(together.theta[:, 0], together.theta[:, 1])


def test_exact_gradient_flow_reaches_the_reward_and_the_regularised_fixed_point(
    hard_component_rewards):
  finals = {}
  for kl_weight in (0.0, 0.1):
    flow = algo.exact_gradient_flow(component_rewards=hard_component_rewards,
                                    theta_init=THETA0, learning_rate=0.1, kl_weight=kl_weight,
                                    reference_std=2.0)
    key = jax.random.key(0)
    theta, info = driver.train(flow.step, flow.init(key), key, num_steps=5000,
                               chunk_size=5000, progress=False)
    finals[kl_weight] = (np.asarray(jax.nn.softmax(theta)), info["exact_reward"][-1])
  assert abs(finals[0.0][1] - 0.294) < 1e-3
  np.testing.assert_allclose(finals[0.1][0], [.152, .652, .058, .034, .068, .035], atol=2e-3)
  assert abs(finals[0.1][1] - 0.2245) < 1e-3


def test_regularised_particle_run_reaches_the_exact_fixed_point(hard_component_rewards):
  _, info = _run(hard_component_rewards, 5000, seeds=(0, 1, 2, 3, 4), chunk=1000,
                 kl_weight=0.1)
  weights = np.asarray(jax.nn.softmax(info.theta[-1], axis=-1))  # (seeds, 6)
  np.testing.assert_allclose(weights, np.tile([.152, .652, .058, .034, .068, .035], (5, 1)),
                             atol=0.05)
  assert abs(info.exact_reward[-1].mean() - 0.22) < 0.01


def test_nested_loop_with_theta_frozen_samples_the_stationary_law(hard_component_rewards):
  """T = 200 warm steps per update, η tiny: the particles' mean reward is E_{π_θ₀}[r]."""
  _, info = _run(hard_component_rewards, 3, learning_rate=1e-9, inner_steps=200,
                 num_particles=20000, step_size=0.05)
  exact = float(jax.nn.softmax(THETA0) @ hard_component_rewards)
  assert abs(info.reward[-1, 0] - exact) < 0.005


def test_cold_start_restarts_the_chain_every_update(hard_component_rewards):
  _, cold = _run(hard_component_rewards, 20, learning_rate=1e-9, inner_steps=1,
                 warm_start=False, num_particles=20000)
  _, warm = _run(hard_component_rewards, 20, learning_rate=1e-9, inner_steps=1,
                 num_particles=20000)
  stationary = float(jax.nn.softmax(THETA0) @ hard_component_rewards)  # 0.0725
  # Restarted from N(0, I) before every update, one ULA step never gets near π_θ₀: the
  # reward stays at its first value (≈ 0.065); the warm chain relaxes to π_θ₀.
  np.testing.assert_allclose(cold.reward[:, 0], cold.reward[0, 0], atol=3e-3)
  assert abs(cold.reward[-5:, 0].mean() - stationary) > 0.006
  assert abs(warm.reward[-5:, 0].mean() - stationary) < 0.004


@pytest.mark.parametrize("seeds", [(0,), (0, 1)])
def test_runner_drawing_in_blocks_gives_the_step_by_step_numbers(hard_component_rewards, seeds):
  # make_runner draws the noise of DRAW_BLOCK steps at once: same keys, same draws; the floats
  # agree with one jitted step per iteration up to rounding (fusions differ).
  algorithm = _algorithm(hard_component_rewards, num_particles=200, kl_weight=0.1)
  steps = 80  # a chunk of 75 steps (blocks of 25) and one of 5 (one block)
  _, final, info = algo.run(algorithm, seeds, steps, 75, draw=_draw(num_particles=200))
  step = jax.jit(algo.chain_step(algorithm))
  for i, seed in enumerate(seeds):
    carry, thetas = algo.initial_carry(algorithm, jax.random.key(seed)), []
    for _ in range(steps):
      carry, step_info = step(carry)
      thetas.append(step_info.theta)
    np.testing.assert_allclose(info.theta[:, i], np.stack(thetas), atol=1e-6)
    np.testing.assert_allclose(final.particles[i], carry[1].particles, atol=1e-3)

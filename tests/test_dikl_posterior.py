"""DiKL's noisy-score estimate against the closed form on a Gaussian target."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import energies
from dikl import posterior

MEAN = jnp.array([1.0, -2.0, 0.5])
STD = 0.7


def _energy(x):
  return energies.quadratic_energy(x - MEAN, STD)


@pytest.mark.parametrize("alpha, config", [
    (0.95, posterior.PosteriorConfig(num_importance=10, num_chains=4000, mala_steps=5)),
    (0.5, posterior.PosteriorConfig(num_importance=20, num_chains=4000, mala_steps=20,
                                    step_size=0.05, adapt_step_size=True)),
])
def test_mixed_score_identity_matches_the_gaussian_noisy_score(alpha, config):
  sigma = np.sqrt(1 - alpha**2)
  x_t = jnp.array([0.3, 0.9, -1.2])
  # p_t = N(α μ, (α² s² + σ²) I) for x ~ N(μ, s² I) and x_t = α x + σ ε.
  exact = -(x_t - alpha * MEAN) / (alpha**2 * STD**2 + sigma**2)
  estimate = jax.jit(functools.partial(posterior.noisy_score, energy_fn=_energy, config=config))
  score, acceptance = estimate(jax.random.key(0), x_t=x_t, alpha=jnp.float32(alpha),
                               sigma=jnp.float32(sigma))
  np.testing.assert_allclose(score, exact, atol=0.05 * float(jnp.abs(exact).max()) + 0.02)
  assert 0.3 < float(acceptance) <= 1.0


def _one_chain_mean_score(alpha, sigma, x_t, config, num=4000):
  keys = jax.random.split(jax.random.key(1), num)
  scores, _ = jax.jit(jax.vmap(lambda k: posterior.noisy_score(
      k, _energy, x_t, jnp.float32(alpha), jnp.float32(sigma), config)))(keys)
  return np.asarray(scores.mean(0))


def test_mala_removes_the_resampling_bias_of_one_chain_estimates():
  alpha, sigma = 0.8, 0.6
  x_t = jnp.array([0.0, 0.0, 0.0])
  exact = np.asarray(-(x_t - alpha * MEAN) / (alpha**2 * STD**2 + sigma**2))
  # Ten proposals 1.8x wider than the posterior: resampling alone is biased (~7% here) ...
  biased = _one_chain_mean_score(alpha, sigma, x_t, posterior.PosteriorConfig(mala_steps=0))
  assert np.abs(biased - exact).max() > 0.1
  # ... and enough adapted MALA steps make one chain an unbiased draw of the posterior.
  corrected = _one_chain_mean_score(alpha, sigma, x_t, posterior.PosteriorConfig(
      mala_steps=100, step_size=0.05, adapt_step_size=True))
  np.testing.assert_allclose(corrected, exact, atol=0.05)

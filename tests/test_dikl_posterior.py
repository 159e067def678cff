"""DiKL's noisy-score estimate against the closed form on a Gaussian target."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.evaluation import metrics
from common.targets import benchmarks as targets
from common.targets import energies
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


@pytest.mark.usefixtures("x64")
def test_lennard_jones_cubic_extrapolation_is_smooth_at_the_switch_and_finite_below():
  # LJ-13 on a wide lattice; particle 1 moves along a line at distance d from particle 0.
  lattice = jnp.asarray(np.stack(np.meshgrid(*[np.arange(3)] * 3), -1).reshape(-1, 3)[:13] * 3.0,
                        jnp.float64)

  @functools.partial(jax.jit, static_argnums=1)
  def energy_at(d, cubic_below=0.75):
    x = lattice.at[1].set(lattice[0] + jnp.stack([d, 0.0, 0.0]))
    return energies.lennard_jones_energy(x.ravel(), soft_core=True, cubic_below=cubic_below)

  def pair(r):  # the soft-core pair term below 2^(−1/6)
    return r * (r**-12 - 2.0 * r**-6)

  switch, eps = 0.75, 1e-6
  slope = jax.jit(jax.grad(energy_at))
  # Above the switch: the soft-core energy unchanged.
  for d in (0.76, 0.9, 1.3):
    np.testing.assert_allclose(energy_at(jnp.float64(d)), energy_at(jnp.float64(d), None),
                               rtol=1e-12)
  # Value and slope continuous at the switch; the slope equals central finite differences on
  # both sides and at the switch itself.
  np.testing.assert_allclose(energy_at(jnp.float64(switch - 1e-9)),
                             energy_at(jnp.float64(switch + 1e-9)), rtol=1e-8)
  np.testing.assert_allclose(slope(jnp.float64(switch - 1e-9)), slope(jnp.float64(switch + 1e-9)),
                             rtol=1e-6)
  for d in (switch - 1e-3, switch, switch + 1e-3, 0.5, 0.1):
    fd = (energy_at(jnp.float64(d + eps)) - energy_at(jnp.float64(d - eps))) / (2 * eps)
    np.testing.assert_allclose(slope(jnp.float64(d)), fd, rtol=1e-6)
  # Below the switch the pair term (counted twice: ordered pairs) is its cubic Taylor
  # polynomial at 0.75; the rest of the energy is unchanged.
  c = jnp.float64(switch)
  d1, d2, d3 = jax.grad(pair), jax.grad(jax.grad(pair)), jax.grad(jax.grad(jax.grad(pair)))
  for d in (0.7, 0.5, 0.3):
    h = d - switch
    cubic = pair(c) + d1(c) * h + d2(c) * h**2 / 2 + d3(c) * h**3 / 6
    expected = energy_at(jnp.float64(d), None) - 2.0 * pair(jnp.float64(d)) + 2.0 * cubic
    np.testing.assert_allclose(energy_at(jnp.float64(d)), expected, rtol=1e-10)
  # Finite and repulsive down to coincident particles (the soft core alone drops to 0 there).
  values = [float(energy_at(jnp.float64(d))) for d in (0.0, 0.2, 0.4, 0.6, 0.75)]
  assert np.all(np.isfinite(values)) and np.all(np.diff(values) < 0)
  assert np.isfinite(float(slope(jnp.float64(0.0))))


def test_annealed_importance_sampling_removes_the_resampling_bias():
  alpha, sigma = 0.8, 0.6
  x_t = jnp.array([0.0, 0.0, 0.0])
  exact = np.asarray(-(x_t - alpha * MEAN) / (alpha**2 * STD**2 + sigma**2))
  # The same ten proposals as the biased case above, annealed in 20 tempered MALA steps and
  # weighted accordingly, give one-chain estimates without the bias and without posterior MALA.
  annealed = _one_chain_mean_score(alpha, sigma, x_t, posterior.PosteriorConfig(
      mala_steps=0, step_size=0.05, annealing_steps=20))
  np.testing.assert_allclose(annealed, exact, atol=0.05)


def test_annealing_temperatures_linear_and_geometric():
  np.testing.assert_allclose(posterior.annealing_temperatures(4), [0, 0.25, 0.5, 0.75, 1])
  geometric = np.asarray(posterior.annealing_temperatures(5, 1e-4))
  np.testing.assert_allclose(geometric, [0, 1e-4, 1e-3, 1e-2, 1e-1, 1], rtol=1e-5)
  np.testing.assert_allclose(posterior.annealing_temperatures(3, 1.0), [0, 1, 1, 1])
  np.testing.assert_allclose(posterior.annealing_temperatures(1, 0.3), [0, 1])
  with pytest.raises(ValueError, match="at least 1"):
    posterior.annealing_temperatures(0)


@pytest.mark.parametrize("annealing_steps, schedule, max_tvd, min_tvd", [
    (0, "linear", None, 0.5), (20, "linear", None, 0.5), (20, "geometric", 0.25, None)])
def test_geometric_annealing_shares_the_mog40_modes_at_the_noisiest_level(
    annealing_steps, schedule, max_tvd, min_tvd):
  # DiKL's top MoG-40 level: a proposal of width σ/α ≈ 1500 against modes of width 1.3. Averaged
  # over x_t ~ p_t, exact posterior draws are target draws, 1/40 per mode (a TVD of ~0.08 for
  # 2000 of them). Plain importance weights, and a linear schedule's first increment (~10⁵ here),
  # pick the proposal nearest a mode and favour the outer modes; geometric temperatures from
  # b_1 = (s α/σ)² move the particles into the modes before weighting them.
  target = targets.get_target("mog")
  estimate = posterior.make_noisy_score(
      target.energy, num_importance=30, num_chains=1, mala_steps=20, adapt_step_size=False,
      annealing_steps=annealing_steps, annealing_schedule=schedule, step_scale=0.5,
      posterior_std=1.3)
  num, alpha = 2000, 7e-4
  sigma = float(np.sqrt(1 - alpha**2))
  x = target.sample(jax.random.key(0), num)
  x_t = alpha * x + sigma * jax.random.normal(jax.random.key(1), x.shape)
  scores, _ = jax.jit(estimate)(
      jax.random.key(2), x_t, jnp.full((num,), alpha), jnp.full((num,), sigma))
  held = (scores + x_t) / alpha  # x̂ + ĝ, next to the draw's mode
  tvd = 0.5 * np.abs(metrics.mog40_mode_fractions(held) - 1 / 40).sum()
  if max_tvd is not None:
    assert tvd < max_tvd
  if min_tvd is not None:
    assert tvd > min_tvd

"""Kernels against closed forms: ULA's biased and MALA's exact stationary laws, EM's orders."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.kernels import sde
from common.targets import energies

MEAN = jnp.array([1.0, -2.0])
STD = 1.0


def shifted_well(x, mean):
  return energies.quadratic_energy(x - mean, STD)


def _final_positions(kernel, num_chains=20000, num_steps=300, seed=0, step_args=(MEAN,)):
  state = kernel.init(jnp.zeros((num_chains, 2)), *step_args)
  run = jax.jit(lambda key, s: sde.run_chain(kernel, key, s, num_steps, *step_args))
  state, info = run(jax.random.key(seed), state)
  return np.asarray(state.position), info


def test_ula_stationary_law_has_the_known_step_size_bias():
  step = 0.2
  x, _ = _final_positions(sde.ula(shifted_well, step))
  # x' − m = (1 − γ/σ²)(x − m) + √(2γ) ξ  ⇒  Var = σ² / (1 − γ / (2σ²)) = 1.111.
  np.testing.assert_allclose(x.mean(0), MEAN, atol=0.03)
  np.testing.assert_allclose(x.var(0), STD**2 / (1 - step / (2 * STD**2)), rtol=0.03)


def test_mala_stationary_law_is_exact_despite_a_large_step():
  x, info = _final_positions(sde.mala(shifted_well, 0.5))
  np.testing.assert_allclose(x.mean(0), MEAN, atol=0.03)
  np.testing.assert_allclose(x.var(0), STD**2, rtol=0.03)  # ULA at this step: 1.333
  acceptance = float(np.mean(info.acceptance_probability[-100:]))
  assert 0.5 < acceptance < 1.0


def test_mala_accepts_per_chain_step_sizes():
  step_sizes = jnp.where(jnp.arange(20000)[:, None] % 2 == 0, 0.05, 1.5)
  x, info = _final_positions(sde.mala(shifted_well, step_sizes))
  np.testing.assert_allclose(x.var(0), STD**2, rtol=0.04)
  acceptance = np.asarray(info.acceptance_probability[-50:]).mean(0)
  assert acceptance[0::2].mean() > acceptance[1::2].mean() + 0.1  # bigger steps, fewer accepted


def test_mala_on_one_configuration_and_same_key_same_numbers():
  kernel = sde.mala(shifted_well, 0.3)
  state = kernel.init(jnp.zeros(2), MEAN)
  a, _ = sde.run_chain(kernel, jax.random.key(3), state, 50, MEAN)
  b, _ = sde.run_chain(kernel, jax.random.key(3), state, 50, MEAN)
  c, _ = sde.run_chain(kernel, jax.random.key(4), state, 50, MEAN)
  assert a.position.shape == (2,)
  np.testing.assert_array_equal(a.position, b.position)
  assert not np.array_equal(a.position, c.position)


def test_energy_grad_rejects_a_three_axis_state():
  with pytest.raises(ValueError, match="configuration"):
    sde.energy_grad(shifted_well, jnp.zeros((2, 3, 2)), MEAN)


def test_euler_maruyama_strong_order_one_half_on_geometric_brownian_motion():
  mu, sigma, num_paths, fine = 0.5, 0.8, 4000, 2**10
  ts = jnp.linspace(0.0, 1.0, fine + 1)
  dw = sde.brownian_increments(jax.random.key(0), ts, (num_paths,))
  exact = jnp.exp((mu - 0.5 * sigma**2) + sigma * dw.sum(0))  # X₀ = 1
  errors, steps = [], []
  for coarsen in (2**6, 2**5, 2**4, 2**3, 2**2):
    coarse_dw = dw.reshape(fine // coarsen, coarsen, num_paths).sum(1)
    x_final, _ = sde.solve_sde(lambda t, x: mu * x, lambda t, x: sigma * x,
                               jnp.ones(num_paths), ts[::coarsen], coarse_dw)
    errors.append(float(jnp.mean(jnp.abs(x_final - exact))))
    steps.append(coarsen / fine)
  order = np.polyfit(np.log(steps), np.log(errors), 1)[0]
  assert 0.35 < order < 0.7, (order, errors)


def test_euler_maruyama_ou_process_matches_its_gaussian_law_and_saves_the_path():
  theta, sigma, x0 = 2.0, 0.7, 1.5
  ts = jnp.linspace(0.0, 1.0, 401)
  x_final, path = sde.simulate_sde(
      jax.random.key(1), lambda t, x: -theta * x, lambda t, x: sigma,
      jnp.full((40000,), x0), ts, save_path=True)
  assert path.shape == (401, 40000)
  np.testing.assert_array_equal(path[0], x0)
  np.testing.assert_array_equal(path[-1], x_final)
  np.testing.assert_allclose(x_final.mean(), x0 * np.exp(-theta), atol=0.01)
  np.testing.assert_allclose(x_final.var(), sigma**2 * (1 - np.exp(-2 * theta)) / (2 * theta),
                             rtol=0.03)


def test_euler_maruyama_strong_order_one_for_additive_noise():
  theta, sigma, num_paths, fine = 1.0, 0.5, 2000, 2**10
  ts = jnp.linspace(0.0, 1.0, fine + 1)
  dw = sde.brownian_increments(jax.random.key(2), ts, (num_paths,))
  reference, _ = sde.solve_sde(lambda t, x: -theta * x, lambda t, x: sigma,
                               jnp.ones(num_paths), ts, dw)
  errors = []
  for coarsen in (2**6, 2**5, 2**4):
    coarse_dw = dw.reshape(fine // coarsen, coarsen, num_paths).sum(1)
    x, _ = sde.solve_sde(lambda t, x: -theta * x, lambda t, x: sigma, jnp.ones(num_paths),
                         ts[::coarsen], coarse_dw)
    errors.append(float(jnp.mean(jnp.abs(x - reference))))
  order = np.polyfit(np.log([2**6, 2**5, 2**4]), np.log(errors), 1)[0]
  assert 0.8 < order < 1.2, (order, errors)

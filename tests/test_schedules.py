"""The geometric schedule and its bridge against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adjoint import schedules

SCHEDULE = schedules.GeometricSchedule(sigma_min=1e-3, sigma_max=1.0)


def test_sigma_endpoints():
  np.testing.assert_allclose(SCHEDULE.sigma(0.0), 3.7169, atol=1e-4)
  np.testing.assert_allclose(SCHEDULE.sigma(1.0), 0.0037169, atol=1e-7)


def test_integral_of_sigma_squared_is_kappa():
  ts = np.linspace(0.0, 1.0, 200_001)
  sigma_sq = np.asarray(SCHEDULE.sigma(jnp.asarray(ts, jnp.float32)), np.float64) ** 2
  integral = np.sum(0.5 * (sigma_sq[1:] + sigma_sq[:-1]) * np.diff(ts))  # trapezoid rule
  expected = SCHEDULE.sigma_max**2 - SCHEDULE.sigma_min**2
  np.testing.assert_allclose(integral, expected, atol=1e-6)
  np.testing.assert_allclose(SCHEDULE.terminal_variance, expected, rtol=1e-6)
  np.testing.assert_allclose(SCHEDULE.kappa(1.0), expected, atol=1e-6)
  # κ at an interior time against the same quadrature, cut at t = 0.3.
  cut = 60_001
  partial = np.sum(0.5 * (sigma_sq[1:cut] + sigma_sq[:cut - 1]) * np.diff(ts[:cut]))
  np.testing.assert_allclose(SCHEDULE.kappa(0.3), partial, rtol=1e-5)


@pytest.mark.parametrize("t", [0.05, 0.2, 0.6])
def test_bridge_mean_and_variance_from_draws(t):
  num = 100_000
  x0 = jnp.broadcast_to(jnp.array([1.0, -2.0]), (num, 2))
  x1 = jnp.broadcast_to(jnp.array([3.0, 0.5]), (num, 2))
  draws = schedules.sample_bridge(jax.random.key(0), SCHEDULE, jnp.full((num,), t), x0, x1)
  gamma = float(SCHEDULE.kappa(t)) / SCHEDULE.terminal_variance
  mean = (1 - gamma) * np.array([1.0, -2.0]) + gamma * np.array([3.0, 0.5])
  variance = SCHEDULE.terminal_variance * gamma * (1 - gamma)
  np.testing.assert_allclose(np.mean(draws, axis=0), mean, rtol=0.01)
  np.testing.assert_allclose(np.var(draws, axis=0), [variance, variance], rtol=0.01)


def test_bridge_endpoints_are_exact():
  key = jax.random.key(1)
  x0 = jax.random.normal(jax.random.key(2), (5, 3))
  x1 = jax.random.normal(jax.random.key(3), (5, 3))
  t = jnp.array([0.0, 0.0, 1.0, 1.0, 1.0])
  draws = schedules.sample_bridge(key, SCHEDULE, t, x0, x1)
  np.testing.assert_array_equal(draws[:2], x0[:2])
  np.testing.assert_array_equal(draws[2:], x1[2:])
  _, variance = schedules.bridge_moments(SCHEDULE, t, x0, x1)
  np.testing.assert_array_equal(variance, 0.0)  # γ is exactly 0 and 1 at the ends

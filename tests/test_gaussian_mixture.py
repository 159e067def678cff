"""The full-covariance mixture energy, its whitened view, and a grid marginal."""


import jax
import jax.numpy as jnp
import numpy as np

from common.evaluation import quadrature
from common.kernels import sde
from common.targets import gaussian_mixture
from common.targets import whitening


def _two_component(dtype):
  return gaussian_mixture.gaussian_mixture(
      [0.5, 0.5], [[2.0, 2.0], [-4.0, -4.0]], [[2.0, 3.0], [1.0, 2.0]], dtype=dtype)


def test_energy_is_minus_log_density_and_gradient_matches_finite_differences(x64):
  mixture = gaussian_mixture.gaussian_mixture(
      [0.3, 0.7], [[1.0, -1.0], [-2.0, 0.5]],
      [[[2.0, 0.6], [0.6, 1.0]], [[0.5, -0.2], [-0.2, 1.5]]], dtype=jnp.float64)
  energy = lambda x: gaussian_mixture.gaussian_mixture_energy(x, mixture)
  x = jnp.array([0.3, -0.4], jnp.float64)
  # The density by hand, component by component.
  density = 0.0
  for w, m, c in [(0.3, [1.0, -1.0], [[2.0, 0.6], [0.6, 1.0]]),
                  (0.7, [-2.0, 0.5], [[0.5, -0.2], [-0.2, 1.5]])]:
    d = np.asarray(x) - m
    density += w * np.exp(-0.5 * d @ np.linalg.solve(c, d)) / (2 * np.pi * np.sqrt(np.linalg.det(c)))
  np.testing.assert_allclose(energy(x), -np.log(density), rtol=1e-12)
  eps = 1e-6
  finite_diff = [(energy(x + eps * e) - energy(x - eps * e)) / (2 * eps) for e in jnp.eye(2)]
  np.testing.assert_allclose(jax.grad(energy)(x), finite_diff, atol=1e-6)


def test_whitened_energy_equals_original_at_mapped_points():
  mixture = _two_component(jnp.float32)
  mean, cov = gaussian_mixture.mixture_moments(mixture)
  np.testing.assert_allclose(mean, [-1.0, -1.0])
  np.testing.assert_allclose(cov, [[10.5, 9.0], [9.0, 11.5]])
  affine = whitening.whitening(mean, cov)
  np.testing.assert_allclose(np.asarray(affine.matrix) @ cov @ np.asarray(affine.matrix).T,
                             np.eye(2), atol=1e-5)
  energy = lambda x: gaussian_mixture.gaussian_mixture_energy(x, mixture)
  energy_y = whitening.whitened_energy(energy, affine)
  xs = jax.random.normal(jax.random.key(0), (50, 2)) * 3.0 - 1.0
  ys = affine.to_whitened(xs)
  np.testing.assert_allclose(affine.from_whitened(ys), xs, atol=1e-5)
  np.testing.assert_allclose(jax.vmap(energy_y)(ys), jax.vmap(energy)(xs), rtol=1e-5)
  # Forces transform as covectors: ∇_y E_y = W⁻ᵀ ∇_x E.
  np.testing.assert_allclose(
      sde.energy_grad(energy_y, ys), sde.energy_grad(energy, xs) @ affine.inverse,
      rtol=1e-4, atol=1e-5)


def test_grid_marginal_of_four_mode_mixture():
  means = [[2.0, 2.0], [2.0, -2.0], [-2.0, 2.0], [-2.0, -2.0]]
  mixture = gaussian_mixture.gaussian_mixture([1, 1, 1, 1], means, np.ones((4, 2)))
  grid = quadrature.midpoint_grid(half_width=10.0, spacing=0.05)
  energies = jax.vmap(gaussian_mixture.gaussian_mixture_energy, (0, None))(
      jnp.asarray(grid.points, jnp.float32), mixture)
  weights = np.exp(-np.asarray(energies, np.float64)) * grid.cell_area
  np.testing.assert_allclose(weights.sum(), 1.0, atol=1e-3)
  x = grid.points[:, 0]
  x_mean = np.sum(weights * x) / weights.sum()
  x_std = np.sqrt(np.sum(weights * (x - x_mean) ** 2) / weights.sum())
  np.testing.assert_allclose(x_mean, 0.0, atol=1e-3)
  np.testing.assert_allclose(x_std, np.sqrt(5.0), atol=1e-3)


def test_exact_draws_and_mode_assignment():
  mixture = _two_component(jnp.float32)
  draws = gaussian_mixture.sample_gaussian_mixture(jax.random.key(0), mixture, 100_000)
  np.testing.assert_allclose(np.mean(draws, axis=0), [-1.0, -1.0], atol=0.05)
  np.testing.assert_allclose(np.cov(np.asarray(draws).T), [[10.5, 9.0], [9.0, 11.5]], rtol=0.02)
  modes = np.asarray(gaussian_mixture.nearest_component(draws, mixture))
  np.testing.assert_allclose(np.mean(modes == 0), 0.5, atol=0.01)

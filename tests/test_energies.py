"""Energies against finite differences, closed forms and the published formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.targets import energies


def test_mixture_energy_gradients_match_finite_differences(x64, central_difference):
  means = np.asarray(energies.hexagon_means(), np.float64)
  theta = np.array([0.3, -1.0, 2.0, 0.0, 0.5, -0.2])
  x = np.array([1.3, -0.7])
  energy = lambda x, th: float(energies.isotropic_mixture_energy(x, th, means, 1.3))
  grad_x = jax.grad(energies.isotropic_mixture_energy)(x, theta, means, 1.3)
  grad_theta = jax.grad(energies.isotropic_mixture_energy, argnums=1)(x, theta, means, 1.3)
  assert grad_x.dtype == jnp.float64
  np.testing.assert_allclose(grad_x, central_difference(lambda v: energy(v, theta), x, 1e-6),
                             atol=1e-8)
  np.testing.assert_allclose(grad_theta, central_difference(lambda v: energy(x, v), theta, 1e-6),
                             atol=1e-8)


def test_mixture_energy_equals_the_published_formula(x64):
  means = np.asarray(energies.hexagon_means(), np.float64)
  theta = np.array([1.5, 0.0, 1.5, 0.0, 1.5, 0.0])
  weights = np.exp(theta) / np.exp(theta).sum()
  for x in ([0.0, 0.0], [4.0, 3.8], [-9.0, 2.0]):
    naive = -np.log(np.sum(weights * np.exp(-np.sum((np.array(x) - means) ** 2, 1) / 2)))
    np.testing.assert_allclose(
        energies.isotropic_mixture_energy(jnp.array(x), theta, means), naive, rtol=1e-12)


def test_theta_gradient_is_softmax_minus_responsibilities(x64):
  means = np.asarray(energies.hexagon_means(), np.float64)
  theta = np.array([0.1, 0.9, -0.4, 1.2, 0.0, -2.0])
  x = np.array([2.5, 1.0])
  weights = np.exp(theta) / np.exp(theta).sum()
  unnorm = weights * np.exp(-0.5 * np.sum((x - means) ** 2, 1))
  responsibilities = unnorm / unnorm.sum()
  grad = jax.grad(energies.isotropic_mixture_energy, argnums=1)(x, theta, means)
  np.testing.assert_allclose(grad, weights - responsibilities, atol=1e-12)
  np.testing.assert_allclose(np.sum(grad), 0.0, atol=1e-12)


def test_mixture_energy_takes_one_std_for_all_components():
  # exp(−E) omits the normaliser (2π s²)^{d/2}, the mixture's only if s is shared: with one
  # s per component the weights would silently become softmax(θ)ₖ sₖ^d.
  means = energies.hexagon_means()
  theta = jnp.zeros(6)
  energies.isotropic_mixture_energy(jnp.ones(2), theta, means, jnp.float32(0.5))
  with pytest.raises(ValueError, match="scalar"):
    energies.isotropic_mixture_energy(jnp.ones(2), theta, means, jnp.full((6,), 0.5))


def test_hexagon_means_lie_on_the_circle_sixty_degrees_apart():
  means = np.asarray(energies.hexagon_means(4.0, 6), np.float64)
  np.testing.assert_allclose(np.linalg.norm(means, axis=1), 4.0, rtol=1e-6)
  np.testing.assert_allclose(np.degrees(np.arctan2(means[:, 1], means[:, 0])) % 360,
                             np.arange(6) * 60.0, atol=1e-4)


def test_mixture_sampler_moments():
  means = energies.hexagon_means()
  logits = jnp.array([1.5, 0.0, 1.5, -1.0, 0.5, 0.0])
  std = 0.7
  x = np.asarray(energies.sample_isotropic_mixture(jax.random.key(0), logits, means, std,
                                                   400000), np.float64)
  w = np.asarray(jax.nn.softmax(logits), np.float64)
  mu = np.asarray(means, np.float64)
  mean = w @ mu
  second = np.einsum("k,ki,kj->ij", w, mu, mu) + std**2 * np.eye(2)
  np.testing.assert_allclose(x.mean(0), mean, atol=0.02)
  np.testing.assert_allclose(np.cov(x.T, bias=True), second - np.outer(mean, mean), atol=0.05)


def test_quadratic_well_force_and_normaliser():
  x = jnp.array([0.3, -1.2, 2.0])
  np.testing.assert_allclose(jax.grad(energies.quadratic_energy)(x, 0.5), x / 0.25, rtol=1e-6)
  np.testing.assert_allclose(energies.gaussian_log_normaliser(2, 1.0), np.log(2 * np.pi))

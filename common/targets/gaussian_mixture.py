"""Gaussian mixtures with full covariances: energy, moments, exact draws, mode assignment.

The energy is written for one configuration (batch it with ``jax.vmap``, forces by ``jax.grad``):

    E(x) = −log Σₖ wₖ N(x; μₖ, Σₖ),

evaluated by logsumexp over the components with precomputed precisions and log-normalisers,
so ``exp(−E)`` is the normalised mixture density.
"""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


class GaussianMixture(NamedTuple):
  """Mixture parameters with the per-component quantities the energy needs, precomputed."""
  weights: jax.Array  # (K,)
  means: jax.Array  # (K, d)
  covariances: jax.Array  # (K, d, d)
  precisions: jax.Array  # (K, d, d), Σₖ⁻¹
  log_normalisers: jax.Array  # (K,), log wₖ − ½ log det(2π Σₖ)


def gaussian_mixture(weights, means, covariances, dtype=jnp.float32) -> GaussianMixture:
  """Builds a ``GaussianMixture`` (inverses and determinants in float64 on the host).

  Args:
    weights: (K,) nonnegative, normalised here.
    means: (K, d).
    covariances: (K, d, d) symmetric positive definite, or (K, d) for diagonal ones.
    dtype: dtype of the stored arrays.
  """
  weights = np.asarray(weights, np.float64)
  means = np.asarray(means, np.float64)
  covariances = np.asarray(covariances, np.float64)
  if covariances.ndim == 2:
    covariances = np.stack([np.diag(c) for c in covariances])
  num, dim = means.shape
  if weights.shape != (num,) or covariances.shape != (num, dim, dim):
    raise ValueError(
        f"shapes disagree: weights {weights.shape}, means {means.shape}, "
        f"covariances {covariances.shape}")
  weights = weights / weights.sum()
  _, log_dets = np.linalg.slogdet(2.0 * np.pi * covariances)
  as_jax = lambda a: jnp.asarray(a, dtype)
  return GaussianMixture(
      as_jax(weights), as_jax(means), as_jax(covariances), as_jax(np.linalg.inv(covariances)),
      as_jax(np.log(weights) - 0.5 * log_dets))


def component_log_densities(x: jax.Array, mixture: GaussianMixture) -> jax.Array:
  """log(wₖ N(x; μₖ, Σₖ)) for each component, shape (K,), for one configuration (d,)."""
  diffs = x - mixture.means
  quad = jnp.einsum("ki,kij,kj->k", diffs, mixture.precisions, diffs)
  return mixture.log_normalisers - 0.5 * quad


def gaussian_mixture_energy(x: jax.Array, mixture: GaussianMixture) -> jax.Array:
  """E(x) = −log Σₖ wₖ N(x; μₖ, Σₖ) for one configuration (d,)."""
  return -jax.nn.logsumexp(component_log_densities(x, mixture))


def nearest_component(x: jax.Array, mixture: GaussianMixture) -> jax.Array:
  """The index of the component with the largest responsibility, for a batch (N, d)."""
  chex.assert_rank(x, 2)
  return jnp.argmax(jax.vmap(component_log_densities, (0, None))(x, mixture), axis=-1)


def mixture_moments(mixture: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
  """Overall mean Σ wₖμₖ and covariance Σ wₖ(Σₖ + μₖμₖᵀ) − mmᵀ (float64, host)."""
  weights, means, covariances = (
      np.asarray(a, np.float64) for a in (mixture.weights, mixture.means, mixture.covariances))
  mean = weights @ means
  centred = means - mean
  covariance = np.einsum("k,kij->ij", weights, covariances + centred[:, :, None] * centred[:, None])
  return mean, covariance


def sample_gaussian_mixture(key: jax.Array, mixture: GaussianMixture, num: int) -> jax.Array:
  """Exact draws, shape (num, d): a component by its weight, then μₖ + Lₖ ξ with LₖLₖᵀ = Σₖ."""
  key_component, key_noise = jax.random.split(key)
  component = jax.random.choice(key_component, mixture.weights.shape[0], (num,), p=mixture.weights)
  noise = jax.random.normal(key_noise, (num, mixture.means.shape[1]), mixture.means.dtype)
  factors = jnp.linalg.cholesky(mixture.covariances)
  return mixture.means[component] + jnp.einsum("nij,nj->ni", factors[component], noise)

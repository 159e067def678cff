"""Particle systems stored flat: a configuration is ``(n_particles * spatial_dim,)``."""

import jax
import jax.numpy as jnp
import numpy as np


def as_particles(x: jax.Array, n_particles: int) -> jax.Array:
  """(..., n·k) → (..., n, k)."""
  return x.reshape(x.shape[:-1] + (n_particles, x.shape[-1] // n_particles))


def remove_centre_of_mass(x: jax.Array, n_particles: int) -> jax.Array:
  """Subtracts each configuration's centre of mass; works on (..., n·k), returns the same shape."""
  p = as_particles(x, n_particles)
  return (p - jnp.mean(p, axis=-2, keepdims=True)).reshape(x.shape)


def pair_distances(x: jax.Array, n_particles: int) -> jax.Array:
  """Distances of the n(n − 1)/2 unordered pairs, (..., n·k) → (..., n(n − 1)/2).

  The square root has a zero-safe gradient (coincident particles give distance 0, gradient 0).
  """
  p = as_particles(x, n_particles)
  i, j = np.triu_indices(n_particles, k=1)
  sq = jnp.sum((p[..., i, :] - p[..., j, :]) ** 2, axis=-1)
  safe = jnp.where(sq > 0, sq, 1.0)
  return jnp.where(sq > 0, jnp.sqrt(safe), 0.0)

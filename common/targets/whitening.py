"""Energies seen through a change of variables.

Samplers whose base process is N(0, I)-like work best on a target of unit scale: the affine
whitening y = W(x − m), W = Λ^{−1/2} Qᵀ from the target covariance C = QΛQᵀ, maps the target to
mean 0 and covariance I (Havens et al. 2025 normalise their toy targets the same way). The energy
in y is E_y(y) = E(W⁻¹y + m); the constant log|det W| is dropped, it does not change the law.
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

EnergyFn = Callable[..., jax.Array]


class AffineWhitening(NamedTuple):
  """y = W(x − m) and its inverse x = W⁻¹y + m."""
  shift: jax.Array  # m, (d,)
  matrix: jax.Array  # W, (d, d)
  inverse: jax.Array  # W⁻¹, (d, d)

  def to_whitened(self, x: jax.Array) -> jax.Array:
    """y = W(x − m) for one configuration (d,) or a batch (N, d)."""
    return (x - self.shift) @ self.matrix.T

  def from_whitened(self, y: jax.Array) -> jax.Array:
    """x = W⁻¹y + m for one configuration (d,) or a batch (N, d)."""
    return y @ self.inverse.T + self.shift


def whitening(mean, covariance, dtype=jnp.float32) -> AffineWhitening:
  """The whitening of a law with this mean and covariance: W = Λ^{−1/2} Qᵀ, W⁻¹ = Q Λ^{1/2}."""
  mean = np.asarray(mean, np.float64)
  eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(covariance, np.float64))
  if np.any(eigenvalues <= 0):
    raise ValueError(f"covariance must be positive definite, eigenvalues {eigenvalues}")
  matrix = eigenvectors.T / np.sqrt(eigenvalues)[:, None]
  inverse = eigenvectors * np.sqrt(eigenvalues)[None, :]
  return AffineWhitening(*(jnp.asarray(a, dtype) for a in (mean, matrix, inverse)))


def identity_whitening(dim: int, dtype=jnp.float32) -> AffineWhitening:
  """y = x."""
  eye = jnp.eye(dim, dtype=dtype)
  return AffineWhitening(jnp.zeros((dim,), dtype), eye, eye)


def whitened_energy(energy_fn: EnergyFn, affine: AffineWhitening) -> EnergyFn:
  """E_y(y, *args) = E(W⁻¹y + m, *args), for one configuration y (d,)."""
  return lambda y, *args: energy_fn(affine.from_whitened(y), *args)

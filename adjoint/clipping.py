"""Norm clipping of vectors, row by row (Havens et al. 2025 clip the adjoint ∇E per sample)."""

import jax
import jax.numpy as jnp


def clip_rows(vectors: jax.Array, max_norm: float | None) -> jax.Array:
  """Scales each vector along the last axis to L2 norm at most ``max_norm``.

      v ← v · min(1, max_norm / (‖v‖ + 1e-6))

  A batch (N, d) is clipped per row; a gradient of shape (n, k) (n particles in k dimensions) is
  clipped per particle; (N, n, k) per particle of each sample. The 1e-6 keeps a zero vector finite.

  Args:
    vectors: array whose last axis holds the vectors.
    max_norm: the largest norm kept, or ``None`` for no clipping.
  """
  if max_norm is None:
    return vectors
  norms = jnp.linalg.norm(vectors, axis=-1, keepdims=True)
  return vectors * jnp.minimum(1.0, max_norm / (norms + 1e-6))

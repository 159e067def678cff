"""Per-row norm clipping."""

import jax.numpy as jnp
import numpy as np

from adjoint import clipping


def test_short_vector_unchanged_long_vector_scaled():
  np.testing.assert_allclose(clipping.clip_rows(jnp.array([3.0, 4.0]), 5.0), [3.0, 4.0], rtol=1e-6)
  clipped = clipping.clip_rows(jnp.array([6.0, 8.0]), 5.0)
  np.testing.assert_allclose(jnp.linalg.norm(clipped), 5.0, rtol=1e-6)
  np.testing.assert_allclose(clipped, [3.0, 4.0], rtol=1e-6)


def test_batch_is_clipped_per_row():
  batch = jnp.array([[3.0, 4.0], [6.0, 8.0], [0.0, 0.0], [0.0, -50.0]])
  clipped = clipping.clip_rows(batch, 5.0)
  np.testing.assert_allclose(clipped, [[3, 4], [3, 4], [0, 0], [0, -5]], rtol=1e-6)


def test_particle_gradient_is_clipped_per_particle():
  grad = jnp.array([[1.0, 2.0, 2.0], [0.0, 30.0, 40.0]])  # two particles in 3-D, norms 3 and 50
  clipped = clipping.clip_rows(grad, 10.0)
  np.testing.assert_allclose(clipped[0], grad[0], rtol=1e-6)
  np.testing.assert_allclose(clipped[1], [0.0, 6.0, 8.0], rtol=1e-6)
  batched = clipping.clip_rows(jnp.stack([grad, 2 * grad]), 10.0)
  np.testing.assert_allclose(jnp.linalg.norm(batched, axis=-1), [[3, 10], [6, 10]], rtol=1e-6)


def test_none_means_no_clipping():
  v = jnp.array([[600.0, 800.0]])
  np.testing.assert_array_equal(clipping.clip_rows(v, None), v)

"""EGNN: equivariance under rotations, reflections and permutations; zero centre of mass; the
factorised first message layer equals a dense layer on the concatenated pairs."""

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.networks import egnn
from common.targets import particles


@pytest.mark.parametrize("n, k, output, with_time", [
    (4, 2, "positions", False),
    (13, 3, "displacement", True),
])
def test_egnn_is_equivariant_and_centred(n, k, output, with_time):
  # Coordinate updates of order one, so that broken equivariance would show.
  model = egnn.EGNN(n_particles=n, hidden=32, num_layers=3, output=output,
                    coordinate_init_scale=1.0)
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=n * k), jnp.float32)
  t = jnp.float32(0.3) if with_time else None
  params = model.init(jax.random.key(0), x, t)
  out = model.apply(params, x, t)
  assert out.shape == x.shape
  np.testing.assert_allclose(particles.as_particles(out, n).mean(0), 0.0, atol=1e-5)
  moved_by = out - particles.remove_centre_of_mass(x, n) if output == "positions" else out
  assert np.abs(np.asarray(moved_by)).max() > 0.05  # neither the identity nor zero
  for trial in range(3):
    rotation, _ = np.linalg.qr(rng.normal(size=(k, k)))
    if trial == 1:
      rotation[:, 0] *= -1  # a reflection
    perm = rng.permutation(n)
    shift = rng.normal(size=k)
    moved = (particles.as_particles(x, n)[perm] @ rotation.T + shift).reshape(-1)
    expected = (particles.as_particles(out, n)[perm] @ rotation.T).reshape(-1)
    np.testing.assert_allclose(model.apply(params, moved.astype(jnp.float32), t), expected,
                               atol=1e-4)


@pytest.mark.parametrize("n, k, hidden, num_layers", [(4, 2, 144, 8), (13, 3, 192, 8)])
def test_egnn_of_the_paper_sizes_starts_near_the_identity(n, k, hidden, num_layers):
  # DiKL's DW-4 and LJ-13 networks (He et al. 2025): a generator that starts far from the
  # identity map, or a score network far from zero, made the LJ-13 paper preset diverge.
  x = particles.remove_centre_of_mass(
      jax.random.normal(jax.random.key(1), (16, n * k)), n)
  for output, t in (("positions", None), ("displacement", jnp.float32(0.5))):
    model = egnn.EGNN(n_particles=n, hidden=hidden, num_layers=num_layers, output=output)
    params = model.init(jax.random.key(0), x[0], t)
    out = jax.vmap(lambda y: model.apply(params, y, t))(x)
    moved_by = out - x if output == "positions" else out
    assert float(jnp.sqrt(jnp.mean(moved_by**2))) < 0.05, output


def test_pairwise_dense_is_a_dense_layer_on_the_concatenated_pairs():
  # The factorised layer must be nn.Dense on [hᵢ, hⱼ, dᵢⱼ²], from its initialisation on.
  n, width, features = 5, 8, 16
  h = jax.random.normal(jax.random.key(1), (n, width))
  sq = jax.random.uniform(jax.random.key(2), (n, n, 1), maxval=4.0)
  pairs = jnp.concatenate([jnp.broadcast_to(h[:, None], (n, n, width)),
                           jnp.broadcast_to(h[None, :], (n, n, width)), sq], axis=-1)
  dense = flax.linen.Dense(features)
  dense_params = dense.init(jax.random.key(0), pairs)
  pairwise = egnn.PairwiseDense(features)
  pairwise_params = pairwise.init(jax.random.key(0), h, sq)
  chex.assert_trees_all_equal(pairwise_params, dense_params)
  key_kernel, key_bias = jax.random.split(jax.random.key(3))
  kernel, bias = dense_params["params"]["kernel"], dense_params["params"]["bias"]
  trained = {"params": {"kernel": kernel + 0.1 * jax.random.normal(key_kernel, kernel.shape),
                        "bias": bias + 0.1 * jax.random.normal(key_bias, bias.shape)}}
  np.testing.assert_allclose(pairwise.apply(trained, h, sq), dense.apply(trained, pairs),
                             rtol=1e-5, atol=1e-5)

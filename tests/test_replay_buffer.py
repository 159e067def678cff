"""FIFO eviction and sampling from filled slots only, under jit."""

import jax
import jax.numpy as jnp
import numpy as np

from common.training import replay_buffer


def _items(start, num):
  values = jnp.arange(start, start + num, dtype=jnp.float32)
  return {"x": jnp.stack([values, -values], axis=1), "tag": values.astype(jnp.int32)}


def test_fifo_eviction_under_jit():
  buffer = replay_buffer.init({"x": jnp.zeros(2), "tag": jnp.zeros((), jnp.int32)}, capacity=5)
  add = jax.jit(replay_buffer.add)
  buffer = add(buffer, _items(0, 3))
  assert int(buffer.size) == 3 and int(buffer.write_index) == 3
  buffer = add(buffer, _items(3, 3))  # item 5 overwrites the oldest, item 0
  assert int(buffer.size) == 5 and int(buffer.write_index) == 1
  np.testing.assert_array_equal(buffer.data["tag"], [5, 1, 2, 3, 4])
  np.testing.assert_array_equal(buffer.data["x"][:, 1], -np.array([5, 1, 2, 3, 4]))
  buffer = add(buffer, _items(6, 2))
  np.testing.assert_array_equal(buffer.data["tag"], [5, 6, 7, 3, 4])


def test_sampling_only_from_filled_slots_under_jit():
  buffer = replay_buffer.init({"x": jnp.zeros(2), "tag": jnp.zeros((), jnp.int32)}, capacity=100)
  buffer = jax.jit(replay_buffer.add)(buffer, _items(1, 7))  # tags 1..7; empty slots hold 0
  draws = jax.jit(replay_buffer.sample, static_argnums=2)(jax.random.key(0), buffer, 20_000)
  tags = np.asarray(draws["tag"])
  assert set(np.unique(tags)) == set(range(1, 8))
  np.testing.assert_allclose(np.bincount(tags, minlength=8)[1:] / tags.size, 1 / 7, atol=0.015)
  np.testing.assert_array_equal(draws["x"][:, 0], tags)  # the leaves of one item stay together

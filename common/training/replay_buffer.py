"""A fixed-capacity FIFO replay buffer as a PyTree, usable under ``jit`` and inside ``scan``.

The buffer holds any PyTree of items (each leaf with a leading capacity axis), a write index and
the number of filled slots. ``add`` overwrites the oldest items once full; ``sample`` draws
uniformly with replacement among filled slots only.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

PyTree = Any


class ReplayBuffer(NamedTuple):
  data: PyTree  # leaves of shape (capacity, ...)
  write_index: jax.Array  # int32, the slot the next item goes to
  size: jax.Array  # int32, the number of filled slots (≤ capacity)


def init(example_item: PyTree, capacity: int) -> ReplayBuffer:
  """An empty buffer for items shaped like ``example_item`` (one item, no batch axis)."""
  if capacity <= 0:
    raise ValueError(f"capacity must be positive, got {capacity}")
  data = jax.tree.map(
      lambda leaf: jnp.zeros((capacity,) + jnp.shape(leaf), jnp.result_type(leaf)), example_item)
  return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def capacity(buffer: ReplayBuffer) -> int:
  """The number of slots (static: the leading size of the stored arrays)."""
  return jax.tree.leaves(buffer.data)[0].shape[0]


def add(buffer: ReplayBuffer, items: PyTree) -> ReplayBuffer:
  """Writes a batch of items (leaves of shape (n, ...), n ≤ capacity) over the oldest slots."""
  cap = capacity(buffer)
  num = jax.tree.leaves(items)[0].shape[0]
  if num > cap:
    raise ValueError(f"cannot add {num} items to a buffer of capacity {cap}")
  slots = (buffer.write_index + jnp.arange(num)) % cap
  data = jax.tree.map(lambda stored, new: stored.at[slots].set(new), buffer.data, items)
  return ReplayBuffer(
      data, (buffer.write_index + num) % cap, jnp.minimum(buffer.size + num, cap))


def sample(key: jax.Array, buffer: ReplayBuffer, num: int) -> PyTree:
  """``num`` items drawn uniformly with replacement from the filled slots (leaves (num, ...)).

  Slots fill from 0 upwards, so the filled ones are ``0 .. size − 1``. On an empty buffer the
  draws are slot 0, i.e. zeros.
  """
  slots = jax.random.randint(key, (num,), 0, jnp.maximum(buffer.size, 1))
  return jax.tree.map(lambda stored: stored[slots], buffer.data)

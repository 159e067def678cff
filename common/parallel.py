"""Data parallelism over the host's CPU cores.

XLA on CPU runs one small matrix product (e.g. 1000 × 128 by 128 × 128) on about one core. Split
into one CPU device per core, a batch whose rows are sharded over the devices runs on all of them
(1.7× on two cores for the path simulations of Adjoint Sampling), with the same random numbers.
"""

import os
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import numpy as np

_DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


def use_all_cpu_cores() -> None:
  """Asks XLA for one CPU device per core; call before JAX first touches a device.

  An entry point calls this at its top; a count already in ``XLA_FLAGS`` is left alone.
  """
  flags = os.environ.get("XLA_FLAGS", "")
  if _DEVICE_COUNT_FLAG not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} {_DEVICE_COUNT_FLAG}={os.cpu_count() or 1}".strip()


def _sharding(spec: PartitionSpec) -> NamedSharding:
  return NamedSharding(Mesh(np.array(jax.devices()), ("rows",)), spec)


def shard_rows(x: jax.Array) -> jax.Array:
  """Constrains ``x`` to be split by rows over all devices (inside ``jit``).

  A no-op on one device, or when the rows do not divide evenly among the devices.
  """
  num_devices = jax.device_count()
  if num_devices == 1 or x.shape[0] % num_devices:
    return x
  return jax.lax.with_sharding_constraint(x, _sharding(PartitionSpec("rows")))


def gather_rows(x: jax.Array) -> jax.Array:
  """Constrains ``x`` to be whole on every device (inside ``jit``), e.g. after ``shard_rows``.

  Keeping everything but the sharded work replicated keeps a jitted loop's outputs laid out like
  its inputs (see ``replicate``), so calling it again does not recompile.
  """
  if jax.device_count() == 1:
    return x
  return jax.lax.with_sharding_constraint(x, _sharding(PartitionSpec()))


def replicate(tree: Any) -> Any:
  """Puts every array of ``tree`` whole on every device (outside ``jit``); a no-op on one."""
  if jax.device_count() == 1:
    return tree
  return jax.device_put(tree, _sharding(PartitionSpec()))

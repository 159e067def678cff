"""Data parallelism with JAX's SPMD partitioner: one mesh axis over every device, of every host.

The populations of the samplers (Langevin particles, simulated paths, replay-buffer minibatches,
posterior chains, trajectories, guided images) are independent along their leading axis. That
axis is sharded over a 1-D mesh ``('data',)`` holding all devices (``jax.make_mesh``); parameters
and optimiser states are replicated; and ``jit`` inserts the collectives (the all-reduce of a
mean over particles or of a minibatch gradient, the all-gather before a replicated replay
buffer). The code stays written for one device: a sharding constraint at the population axis
(``shard_batch``) is the whole change, and on one device it is a no-op.

The mesh axis is of type ``AxisType.Auto``. With ``Explicit`` axes, shardings are part of the
arrays' types and an operation whose output sharding is ambiguous (a contraction over the
sharded particle axis, ``rewards @ grads``; a random gather ``buffer[rows]`` from a sharded
array) is an error until the code says where the result lives; ``Manual`` (``shard_map``) asks
for per-device code with hand-written ``psum``. ``Auto`` lets the compiler propagate the
constraints and insert those collectives itself, which is what lets the single-device code run
unchanged on many devices.

On CPU, ``use_all_cpu_cores`` splits the host into one XLA device per core, so the same code
also spreads a population over the cores of a laptop (1.7× on two cores for the path
simulations of Adjoint Sampling), and ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
simulates eight devices for the tests.

Several hosts: ``initialize_distributed`` (called by ``common.infra.cli.run`` before anything touches
a device) calls ``jax.distributed.initialize()`` when, and only when, the process is one of
several of a job, recognised from the environment that JAX's own cluster detection reads:

* ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0) with ``JAX_NUM_PROCESSES`` and
  ``JAX_PROCESS_ID``, for any launcher (passed on explicitly; a missing or malformed
  ``JAX_PROCESS_ID`` is a ``LaunchError``, one line and exit status 2 through ``common.infra.cli.run``);
* Slurm: ``SLURM_JOB_ID`` with ``SLURM_NTASKS`` > 1 (auto-detected by JAX);
* Open MPI (``mpirun``): ``OMPI_MCA_orte_hnp_uri`` with ``OMPI_COMM_WORLD_SIZE`` > 1
  (auto-detected by JAX).

``jax.devices()`` then lists the devices of every host and the mesh spans them all.
"""

import functools
import os
from typing import Any

import jax
from jax.experimental import multihost_utils
from jax.sharding import AxisType, NamedSharding, PartitionSpec
import numpy as np

DATA_AXIS = "data"
_DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


class LaunchError(ValueError):
  """The environment of a multi-host launch is incomplete or malformed."""


def _env_int(name: str) -> int:
  try:
    return int(os.environ.get(name, "1"))
  except ValueError:
    return 1


def multi_host_launch() -> bool:
  """Whether the environment says this process is one of several of a job (module docstring)."""
  if os.environ.get("JAX_COORDINATOR_ADDRESS"):
    return _env_int("JAX_NUM_PROCESSES") > 1
  if "SLURM_JOB_ID" in os.environ:
    return _env_int("SLURM_NTASKS") > 1
  if "OMPI_MCA_orte_hnp_uri" in os.environ:
    return _env_int("OMPI_COMM_WORLD_SIZE") > 1
  return False


def _process_id() -> int:
  """``JAX_PROCESS_ID`` of a launch through ``JAX_COORDINATOR_ADDRESS``, checked: a missing
  one, read as 0, would make every process of the job claim to be process 0."""
  value, count = os.environ.get("JAX_PROCESS_ID"), _env_int("JAX_NUM_PROCESSES")
  try:
    process_id = int(value or "")
  except ValueError:
    process_id = -1
  if not 0 <= process_id < count:
    raise LaunchError(f"JAX_PROCESS_ID must be this process's number, 0 to {count - 1}, when "
                      f"JAX_COORDINATOR_ADDRESS is set; got {value!r}")
  return process_id


def initialize_distributed() -> bool:
  """Calls ``jax.distributed.initialize()`` for a multi-host launch, once; returns whether it did.

  Must run before JAX first touches a device. A single process (a laptop, one GPU machine, a
  one-task Slurm job) is left alone: initialising would only wait for a coordinator.

  Raises:
    LaunchError: when ``JAX_COORDINATOR_ADDRESS`` is set without a valid ``JAX_PROCESS_ID``.
  """
  if not multi_host_launch() or jax.distributed.is_initialized():
    return False
  if os.environ.get("JAX_COORDINATOR_ADDRESS"):
    # JAX reads the address itself but not the process count and id.
    jax.distributed.initialize(num_processes=_env_int("JAX_NUM_PROCESSES"),
                               process_id=_process_id())
  else:
    jax.distributed.initialize()  # Slurm / Open MPI: JAX reads the launcher's variables
  return True


def use_all_cpu_cores(*population_sizes: int) -> None:
  """Asks XLA for one CPU device per core; call before JAX first touches a device.

  With population sizes given, the count is the largest one not above the number of cores
  that divides them all (``shard_batch`` needs whole shares), so a default configuration never
  fails on a machine with an odd number of cores. A count already in ``XLA_FLAGS`` (e.g. the
  tests' eight devices) is left alone.
  """
  flags = os.environ.get("XLA_FLAGS", "")
  if _DEVICE_COUNT_FLAG in flags:
    return
  count = os.cpu_count() or 1
  while count > 1 and any(size % count for size in population_sizes):
    count -= 1
  os.environ["XLA_FLAGS"] = f"{flags} {_DEVICE_COUNT_FLAG}={count}".strip()


@functools.cache
def mesh() -> jax.sharding.Mesh:
  """The 1-D mesh ``('data',)`` over all devices of all processes (``AxisType.Auto``)."""
  return jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def data_sharding() -> NamedSharding:
  """Leading axis split over the devices: ``NamedSharding(mesh, P('data'))``."""
  return NamedSharding(mesh(), PartitionSpec(DATA_AXIS))


def replicated_sharding() -> NamedSharding:
  """Whole on every device: ``NamedSharding(mesh, P())``."""
  return NamedSharding(mesh(), PartitionSpec())


def divisibility_error(size: int) -> str | None:
  """Why a global batch of ``size`` cannot be split evenly over the devices; None if it can."""
  devices = jax.device_count()
  if size % devices:
    return (f"{size} is not a multiple of the device count {devices} (the global batch is "
            "split evenly over the devices)")
  return None


def padded_size(size: int) -> int:
  """``size`` rounded up to a multiple of the device count: a batch that splits evenly, of which
  the caller keeps the first ``size`` rows."""
  devices = jax.device_count()
  return -(-size // devices) * devices


def shard_batch(tree: Any, name: str = "the batch") -> Any:
  """Constrains every leaf of ``tree`` to be split along its leading axis (inside ``jit``).

  A no-op on one device. ``name`` is the configuration field of the batch size, for the error.

  Raises:
    ValueError: naming ``name`` when the leading size does not divide by the device count.
  """
  if jax.device_count() == 1:
    return tree
  for leaf in jax.tree.leaves(tree):
    message = divisibility_error(leaf.shape[0])
    if message:
      raise ValueError(f"{name}: {message}")
  return jax.lax.with_sharding_constraint(tree, data_sharding())


def gather(tree: Any) -> Any:
  """Constrains every leaf of ``tree`` to be whole on every device (inside ``jit``).

  For a population entering a replicated structure (the replay buffers); ``jit`` inserts the
  all-gather. A no-op on one device.
  """
  if jax.device_count() == 1:
    return tree
  return jax.lax.with_sharding_constraint(tree, replicated_sharding())


def replicate(tree: Any) -> Any:
  """Puts every array of ``tree`` whole on every device (outside ``jit``); a no-op on one.

  Parameters, optimiser states and loop carries start replicated, so that a compiled loop's
  outputs are laid out like its inputs and calling it again does not recompile.
  """
  if jax.device_count() == 1:
    return tree
  return jax.device_put(tree, replicated_sharding())


def to_host(tree: Any) -> Any:
  """NumPy copies of the arrays of ``tree``, whole, on every process.

  On several hosts a sharded population is not addressable from one process, so it is
  all-gathered first (``multihost_utils.process_allgather``).
  """
  if jax.process_count() > 1:
    return multihost_utils.process_allgather(tree, tiled=True)
  return jax.tree.map(np.asarray, tree)

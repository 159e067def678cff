"""Counting JAX compilations, to show that a compiled loop compiles once and never again.

A jitted loop recompiles when a call's arguments differ in shape, dtype, weak type or sharding
from those of an earlier call, e.g. when the carry it returns is not laid out like the carry it
was given. ``count_compilations`` listens to JAX's own monitoring events, so it sees every
compilation in the process (a jitted function, an eager operation run for the first time).
``time_after_compiling`` times a call without its compilation.
"""

import contextlib
import dataclasses
import time
from typing import Any, Callable, Iterator

import jax

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclasses.dataclass
class Compilations:
  count: int = 0  # XLA (backend) compilations
  seconds: float = 0.0  # spent in XLA compilation (tracing, reported per nested jit, is not)


@contextlib.contextmanager
def count_compilations() -> Iterator[Compilations]:
  """``with count_compilations() as c:`` counts the compilations made inside the block."""
  record = Compilations()

  def listener(event: str, duration: float, **unused_kwargs) -> None:
    if event == COMPILE_EVENT:
      record.count += 1
      record.seconds += duration

  jax.monitoring.register_event_duration_secs_listener(listener)
  try:
    yield record
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)


def time_after_compiling(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
  """Calls ``fn(*args)`` twice and times the second call, which compiles nothing.

  A throughput (e.g. samples/s) of the first call would count the compilation, which on a
  CPU can take longer than the work. ``fn`` must be deterministic in ``args``.

  Returns:
    ``(fn(*args), seconds of the second call, until its result is ready)``.
  """
  jax.block_until_ready(fn(*args))
  start = time.perf_counter()
  result = jax.block_until_ready(fn(*args))
  return result, time.perf_counter() - start

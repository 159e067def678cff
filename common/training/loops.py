"""Compiled loops with host diagnostics in chunks.

A long run is a ``lax.scan`` inside ``jax.jit``; to print progress it is cut into chunks of
``chunk_size`` steps, each one compiled call, and the per-step outputs of a chunk come to the
host in one transfer, made while the next chunk already runs. ``scan_in_chunks`` compiles at
most two lengths (the chunk and a shorter remainder); ``scan_in_blocks`` runs it once per block,
so it may compile a further remainder for each block length (a short first or last block).
"""

from typing import Any, Callable

import jax
import numpy as np

StepFn = Callable[[Any], tuple[Any, Any]]


def jit_run_once(fn: Callable[..., Any]) -> Callable[..., Any]:
  """``jax.jit`` for a function called once (an initial state, a quadrature, a plot's grid).

  Its compilation, not its run, is what costs, so XLA's backend optimisations are turned off:
  on CPU this compiles a Gaussian draw about 35% faster and gives the same bits.
  """
  return jax.jit(fn, compiler_options={"xla_backend_optimization_level": 0})


def make_chunk_runner(step: StepFn) -> Callable[[Any, int], tuple[Any, Any]]:
  """Jitted ``advance(carry, length) -> (carry, stacked outputs)`` over ``length`` steps."""

  def advance(carry, length):
    return jax.lax.scan(lambda c, _: step(c), carry, None, length=length)

  return jax.jit(advance, static_argnums=1)


def scan_in_chunks(
    advance: Callable[[Any, int], tuple[Any, Any]],
    carry: Any,
    num_steps: int,
    chunk_size: int,
    on_chunk: Callable[[int, Any], None] | None = None,
) -> tuple[Any, Any]:
  """Runs ``num_steps`` steps; the per-step outputs are stacked on the host.

  Args:
    advance: ``advance(carry, length)`` from ``make_chunk_runner``; reusing one runner across
      calls reuses its compilation.
    carry: initial loop state (any PyTree).
    num_steps: total steps (> 0).
    chunk_size: steps per compiled call; the host sees outputs once per chunk.
    on_chunk: called as ``on_chunk(steps_done, chunk_outputs_numpy)`` after each chunk.

  Returns:
    ``(final carry, outputs)`` with outputs as NumPy arrays of leading size ``num_steps``.
  """
  if num_steps <= 0 or chunk_size <= 0:
    raise ValueError(f"num_steps and chunk_size must be positive, got {num_steps}, {chunk_size}")
  chunks, done, pending = [], 0, None

  def collect(pending):
    outputs, steps_done = jax.device_get(pending[0]), pending[1]
    chunks.append(outputs)
    if on_chunk is not None:
      on_chunk(steps_done, outputs)

  while done < num_steps:
    length = min(chunk_size, num_steps - done)
    carry, outputs = advance(carry, length)  # dispatched asynchronously
    done += length
    if pending is not None:  # the previous chunk's transfer overlaps this chunk's compute
      collect(pending)
    pending = (outputs, done)
  collect(pending)
  stacked = jax.tree.map(lambda *parts: np.concatenate(parts, axis=0), *chunks)
  return carry, stacked


def scan_in_blocks(
    advance: Callable[[Any, int], tuple[Any, Any]],
    carry: Any,
    num_steps: int,
    block_size: int,
    chunk_size: int,
    on_chunk: Callable[[int, Any], None] | None = None,
    on_block: Callable[[int, Any, Any], None] | None = None,
    first_block: int | None = None,
) -> tuple[Any, Any]:
  """``scan_in_chunks`` in blocks of ``block_size`` steps, with the carry seen between blocks.

  For work that needs the state itself every so often (an evaluation, a checkpoint), which
  the per-chunk outputs do not carry. ``on_chunk(steps_done, chunk_outputs)`` counts steps
  from the start of this call; ``on_block(steps_done, carry, block_outputs)`` is called after
  each block (the last one may be shorter). ``first_block`` (default ``block_size``) is the
  length of the first block, e.g. to end it on a multiple of ``block_size`` of a loop resumed
  part-way. Returns ``(final carry, outputs)`` stacked on the host as ``scan_in_chunks`` does.
  """
  first_block = block_size if first_block is None else first_block
  if block_size <= 0 or first_block <= 0:
    raise ValueError(f"block_size and first_block must be positive, got {block_size}, "
                     f"{first_block}")
  parts, done = [], 0
  while done < num_steps:
    length = min(first_block if done == 0 else block_size, num_steps - done)
    offset = done
    report = None if on_chunk is None else (lambda n, out: on_chunk(offset + n, out))
    carry, outputs = scan_in_chunks(advance, carry, length, min(chunk_size, length), report)
    parts.append(outputs)
    done += length
    if on_block is not None:
      on_block(done, carry, outputs)
  return carry, jax.tree.map(lambda *p: np.concatenate(p, axis=0), *parts)

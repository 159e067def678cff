"""Driving an epoch-wise algorithm ``step(key, state, *args)`` in compiled chunks with progress."""

from typing import Any, Callable

import jax

from common import cli
from common import loops
from common import parallel


def make_epoch_runner(step: Callable[..., tuple[Any, Any]]):
  """A compiled ``advance((key, state, args), length)`` that runs ``length`` epochs in a scan.

  ``args`` ride in the carry, unchanged, so that e.g. corrector parameters or a stage flag can
  differ between calls without recompiling.
  """

  def epoch(carry):
    key, state, args = carry
    key, key_epoch = jax.random.split(key)
    state, info = step(key_epoch, state, *args)
    return (key, state, args), info

  return loops.make_chunk_runner(epoch)


def run_epochs(
    runner, key: jax.Array, state: Any, args: tuple, num_epochs: int, chunk_size: int,
    label: str = "epoch", progress: bool = True,
) -> tuple[jax.Array, Any, Any]:
  """Runs ``num_epochs`` epochs; returns (key, state, per-epoch infos as NumPy arrays).

  Progress lines report the chunk's last loss when the info has a ``loss`` field.
  """
  report = cli.Progress(num_epochs, label) if progress else None

  def on_chunk(done, infos):
    if report is not None:
      report(done, loss=infos.loss[-1])

  # Replicated in, replicated out (``common.parallel``): every chunk reuses one compilation.
  carry = parallel.replicate((key, state, tuple(args)))
  (key, state, _), infos = loops.scan_in_chunks(
      runner, carry, num_epochs, min(chunk_size, num_epochs), on_chunk)
  return key, state, infos

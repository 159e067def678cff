"""Driving an epoch-wise algorithm ``step(key, state, *args)`` in compiled chunks with progress."""

from typing import Any, Callable

import jax
import orbax.checkpoint as ocp

from common import checkpoint
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

  Progress lines report the chunk's last loss, so with ``progress`` the info must have a ``loss``
  field.
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


def restore(manager: ocp.CheckpointManager | None, initial: Any
            ) -> tuple[int, Any, checkpoint.History]:
  """``(epochs done, state, histories)`` from the latest checkpoint of ``manager``, laid out on
  the devices as ``train_epochs`` lays out its carry; ``(0, initial, {})`` when there is none."""
  done, state, histories = checkpoint.resume(manager, parallel.replicate(initial), "epoch")
  return (done, state, histories) if done else (0, initial, histories)


def train_epochs(
    runner, key: jax.Array, state: Any, args: tuple, num_epochs: int, chunk_size: int,
    histories: checkpoint.History, *, block_size: int,
    manager: ocp.CheckpointManager | None = None, done: int = 0, offset: int = 0,
    prefix: str = "", to_save: Callable[[jax.Array, Any], Any] = lambda key, state: (key, state),
    label: str = "epoch", progress: bool = True,
) -> tuple[jax.Array, Any]:
  """``run_epochs`` for a training: epochs ``done … num_epochs`` checked for finiteness and, with
  a ``manager``, checkpointed every ``block_size`` epochs (``common.checkpoint``).

  The epoch infos are appended to ``histories`` as ``<prefix><field>``; ``to_save(key, state)``
  is what each checkpoint holds, numbered (and named in messages) ``epoch offset + epochs done``;
  ``label`` names the progress lines. Returns ``(key, state)``.
  """
  report = cli.Progress(num_epochs - done, label) if progress else None

  def on_chunk(epochs, infos):
    if report is not None:
      report(epochs - done, loss=infos.loss[-1])

  carry = parallel.replicate((key, state, tuple(args)))
  (key, state, _), _ = checkpoint.train_in_blocks(
      runner, carry, manager, histories, num_steps=num_epochs, block_size=block_size,
      chunk_size=chunk_size, done=done, offset=offset, prefix=prefix, label="epoch",
      to_save=lambda carry: to_save(carry[0], carry[1]), on_chunk=on_chunk)
  return key, state

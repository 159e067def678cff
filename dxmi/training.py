"""DxMI iterations in compiled chunks, with per-iteration diagnostics stacked on the host."""

from typing import Any, Callable

import jax
import orbax.checkpoint as ocp

from common import checkpoint
from common import cli
from common import loops
from common import parallel
from dxmi import algorithm

BatchFn = Callable[[jax.Array], jax.Array]  # key -> a (B, D) batch of data


def make_iteration(dxmi: algorithm.DxMI, draw_batch: BatchFn):
  """``iteration((key, state)) -> ((key, state), info)``: one DxMI step on a fresh data batch."""

  def iteration(carry):
    key, state = carry
    key, key_data, key_step = jax.random.split(key, 3)
    state, info = dxmi.step(key_step, state, draw_batch(key_data))
    return (key, state), info

  return iteration


def make_runner(dxmi: algorithm.DxMI, draw_batch: BatchFn):
  """``advance((key, state), length)``: ``length`` DxMI iterations as one ``lax.scan``."""
  return loops.make_chunk_runner(make_iteration(dxmi, draw_batch))


def run(key: jax.Array, dxmi: algorithm.DxMI, state: algorithm.DxMIState, draw_batch: BatchFn,
        iterations: int, chunk_size: int, *, evaluate_every: int | None = None,
        on_evaluate: Callable[[int, algorithm.DxMIState], None] | None = None,
        manager: ocp.CheckpointManager | None = None, done: int = 0,
        histories: checkpoint.History | None = None,
        to_save: Callable[[jax.Array, algorithm.DxMIState], Any] = lambda key, state: (key, state),
        ) -> tuple[algorithm.DxMIState, algorithm.DxMIInfo]:
  """Runs DxMI steps ``done … iterations`` with a progress line per chunk; returns (state, infos).

  Every ``evaluate_every`` iterations (and at the end) ``on_evaluate(done, state)`` is called
  with the current state, e.g. to score it and keep the best sampler; then, with a ``manager``,
  ``to_save(key, state)`` is checkpointed (``common.checkpoint``). ``histories`` holds the
  infos of the ``done`` iterations of a resumed run; the returned infos cover all iterations.
  """
  progress = cli.Progress(iterations - done, "iteration")
  report = lambda steps, infos: progress(steps - done, energy_data=infos.energy_data[-1],
                                         energy_sample=infos.energy_sample[-1],
                                         td_loss=infos.td_loss[-1])
  evaluate = None if on_evaluate is None else (lambda steps, carry: on_evaluate(steps, carry[1]))
  histories = {} if histories is None else histories
  # Replicated in, replicated out (``common.parallel``): every chunk reuses one compilation.
  carry, histories = checkpoint.train_in_blocks(
      make_runner(dxmi, draw_batch), parallel.replicate((key, state)), manager, histories,
      num_steps=iterations, block_size=evaluate_every or iterations, chunk_size=chunk_size,
      done=done, label="iteration", to_save=lambda carry: to_save(*carry), on_chunk=report,
      on_block=evaluate)
  return carry[1], algorithm.DxMIInfo(*(histories[name] for name in algorithm.DxMIInfo._fields))

"""DxMI iterations in compiled chunks, with per-iteration diagnostics stacked on the host."""

from typing import Callable

import jax

from common import cli
from common import loops
from common import parallel
from dxmi import algorithm

BatchFn = Callable[[jax.Array], jax.Array]  # key -> a (B, D) batch of data


def make_runner(dxmi: algorithm.DxMI, draw_batch: BatchFn):
  """``advance((key, state), length)``: ``length`` DxMI iterations as one ``lax.scan``."""

  def one_iteration(carry):
    key, state = carry
    key, key_data, key_step = jax.random.split(key, 3)
    state, info = dxmi.step(key_step, state, draw_batch(key_data))
    return (key, state), info

  return loops.make_chunk_runner(one_iteration)


def run(key: jax.Array, dxmi: algorithm.DxMI, state: algorithm.DxMIState, draw_batch: BatchFn,
        iterations: int, chunk_size: int, *, evaluate_every: int | None = None,
        on_evaluate: Callable[[int, algorithm.DxMIState], None] | None = None,
        ) -> tuple[algorithm.DxMIState, algorithm.DxMIInfo]:
  """Runs ``iterations`` DxMI steps with a progress line per chunk; returns (state, infos).

  Every ``evaluate_every`` iterations (and at the end) ``on_evaluate(done, state)`` is called
  with the current state, e.g. to score it and keep the best checkpoint.
  """
  progress = cli.Progress(iterations, "iteration")
  report = lambda done, infos: progress(done, energy_data=infos.energy_data[-1],
                                        energy_sample=infos.energy_sample[-1],
                                        td_loss=infos.td_loss[-1])
  evaluate = None if on_evaluate is None else (lambda done, carry, _: on_evaluate(done, carry[1]))
  # Replicated in, replicated out (``common.parallel``): every chunk reuses one compilation.
  carry = parallel.replicate((key, state))
  carry, infos = loops.scan_in_blocks(make_runner(dxmi, draw_batch), carry, iterations,
                                      evaluate_every or iterations, chunk_size, report, evaluate)
  return carry[1], infos

"""The one training driver: any algorithm's ``step`` for N steps, compiled, checkpointed, resumable.

    algorithm = ...                                   # a common.types.Algorithm
    manager = checkpoint.manager(folder, resume)      # None: no checkpoints
    done, state, histories = driver.restore(manager, algorithm.init(key_init))
    state, histories = driver.train(algorithm.step, state, key_train, num_steps=10_000,
                                    chunk_size=100, checkpoint_every=1000, manager=manager,
                                    done=done, histories=histories, progress_fields=("loss",))

Step ``i`` (counted from the run's start, ``offset`` included) draws with the key
``jax.random.fold_in(key, i)``; with a ``batch_fn`` that key is split into the batch's key and
the step's. Keys depend on the step number only, and checkpoints are taken at multiples of
``checkpoint_every``, so a resumed run replays the same compiled calls with the same keys and ends
with the same bits as a straight one. Steps run as ``jax.lax.scan`` in chunks of ``chunk_size``
inside one ``jax.jit``; after each chunk a progress line (step, the chosen Info fields, steps/s,
ETA) is printed and every Info field is checked for NaN or infinity (``NonFiniteError``, the last
good checkpoint kept).
"""

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from common import types
from common.infra import cli
from common.infra import parallel
from common.training import checkpoint
from common.training import loops

BatchFn = Callable[[jax.Array], tuple]
"""``batch_fn(key) -> batch``: a tuple of arrays passed to ``step`` after the state."""


def step_key(key: jax.Array, step: jax.Array | int) -> jax.Array:
  """The key of step ``step``: ``fold_in(key, step)``, so no two steps share one."""
  return jax.random.fold_in(key, step)


def make_runner(step: types.StepFn, key: jax.Array, batch_fn: BatchFn | None = None
                ) -> Callable[[Any, int], tuple[Any, Any]]:
  """A jitted ``advance((i, state, args), length)`` running ``length`` steps as one scan.

  ``args`` ride in the carry unchanged and are passed to ``step`` after the batch: values that
  differ between calls (a stage's flag, another network's parameters) without recompiling.
  """

  def one_step(carry):
    i, state, args = carry
    key_step = step_key(key, i)
    batch = ()
    if batch_fn is not None:
      key_batch, key_step = jax.random.split(key_step)
      batch = tuple(batch_fn(key_batch))
    state, info = step(key_step, state, *batch, *args)
    return (i + 1, state, args), info

  return loops.make_chunk_runner(one_step)


def restore(manager: ocp.CheckpointManager | None, state: types.State, label: str = "step"
            ) -> tuple[int, types.State, checkpoint.History]:
  """``(steps done, state, histories)`` from the latest checkpoint of ``manager``, laid out on
  the devices as ``train`` lays out its state; ``(0, state, {})`` when there is none."""
  done, restored, histories = checkpoint.resume(manager, parallel.replicate(state), label)
  return (done, restored, histories) if done else (0, state, histories)


def train(
    step: types.StepFn,
    state: types.State,
    key: jax.Array,
    *,
    num_steps: int,
    chunk_size: int,
    checkpoint_every: int | None = None,
    manager: ocp.CheckpointManager | None = None,
    done: int = 0,
    histories: checkpoint.History | None = None,
    batch_fn: BatchFn | None = None,
    args: tuple = (),
    offset: int = 0,
    prefix: str = "",
    progress_fields: Sequence[str] = (),
    label: str = "step",
    on_block: Callable[[int, types.State], None] | None = None,
    to_save: Callable[[types.State], Any] | None = None,
    runner: Callable[[Any, int], tuple[Any, Any]] | None = None,
    progress: bool = True,
) -> tuple[types.State, checkpoint.History]:
  """Runs steps ``done … num_steps`` of ``step(key, state, *batch, *args) -> (state, info)``.

  Args:
    step: the algorithm's step (``common.types``).
    state: the state after ``done`` steps (from ``restore``, or ``init`` when ``done`` is 0).
    key: the run's training key; step ``i`` uses ``fold_in(key, offset + i)``.
    num_steps: the loop's length.
    chunk_size: steps per compiled call; progress and finiteness checks after each.
    checkpoint_every: steps between checkpoints (default: one block, the whole loop).
    manager: ``common.training.checkpoint.manager``; None saves nothing.
    done: steps already done.
    histories: name -> per-step array so far (restored); the Info fields are appended to it as
      ``<prefix><field>``.
    batch_fn: draws the step's batch from its own key (e.g. a data minibatch).
    args: passed to ``step`` after the batch, unchanged through the loop.
    offset: the loop's first step in the run's count (several loops, e.g. stages, in one run).
    prefix: put before the Info fields' names in ``histories``.
    progress_fields: Info fields whose last value each progress line shows.
    label: the step's name in progress lines and messages ("iteration", "epoch").
    on_block: ``on_block(steps_done, state)`` after each block, before its checkpoint (e.g. an
      evaluation).
    to_save: the tree checkpointed from the state (default: the state itself), e.g. the state
      with ``on_block``'s results around it; ``restore`` then takes ``to_save(state)`` as its
      template.
    runner: a ``make_runner(step, key, batch_fn)`` to reuse across calls (one compilation).
    progress: print a progress line after each chunk.

  Returns:
    ``(state, histories)`` after ``num_steps`` steps.

  Raises:
    checkpoint.NonFiniteError: at the first non-finite Info field or state leaf.
  """
  if runner is None:
    runner = make_runner(step, key, batch_fn)
  histories = {} if histories is None else histories
  line = cli.Progress(max(num_steps - done, 1), label)

  def report(steps, infos):
    fields = dict(infos._asdict()) if hasattr(infos, "_asdict") else dict(infos)
    line(steps - done, **{name: fields[name][-1] for name in progress_fields})

  # Replicated in, replicated out (``common.infra.parallel``): every chunk reuses one compilation.
  carry = parallel.replicate((jnp.asarray(offset + done, jnp.int32), state, tuple(args)))
  (_, state, _), histories = checkpoint.train_in_blocks(
      runner, carry, manager, histories, num_steps=num_steps,
      block_size=checkpoint_every or num_steps, chunk_size=min(chunk_size, num_steps), done=done,
      offset=offset, prefix=prefix, label=label,
      to_save=lambda carry: carry[1] if to_save is None else to_save(carry[1]),
      on_chunk=report if progress else None,
      on_block=None if on_block is None else (lambda steps, carry: on_block(steps, carry[1])))
  return state, histories

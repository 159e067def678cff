"""Training checkpoints with orbax: the full state saved between compiled blocks, resumed exactly.

A training loop runs in blocks of steps (``common.training.loops.scan_in_blocks``); after each block its
whole state (parameters, optimiser state, replay buffer, PRNG key, step counter) and the
per-step histories so far are saved under ``<run folder>/checkpoints/<step>/``. orbax writes a
checkpoint into a temporary folder and renames it once complete, so a run killed at any moment
leaves its earlier checkpoints whole; the ``KEEP`` latest are kept.

A resumed run ends with the same bits as an uninterrupted one when it replays the same compiled
calls with the same keys. ``train_in_blocks`` gives that: checkpoints are taken only at block
boundaries, blocks end at multiples of ``block_size`` from the loop's start (so the resumed run
compiles and runs the same chunk lengths; a run resumed from a shorter last block, its length
extended, first runs up to the next multiple), and the PRNG key is part of the saved state (or is
derived from the saved step by ``fold_in``).

Nothing non-finite is ever saved: every chunk's per-step outputs and every block's state are
checked first, and a NaN or infinity stops the run with ``NonFiniteError`` (one line and exit
status 1 through ``common.infra.cli.run``) naming the step and the quantity, the last good checkpoint
left in place.
"""

import json
import os
import shutil
from typing import Any, Callable, Mapping

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from common.infra import cli
from common.training import loops

CHECKPOINTS = "checkpoints"
KEEP = 2
History = dict[str, np.ndarray]


class NonFiniteError(cli.RunError):
  """A loss or a parameter became NaN or infinite; the message names the step and the quantity."""


def folder_of(run_folder: str) -> str:
  return os.path.join(run_folder, CHECKPOINTS)


def saved_steps(run_folder: str) -> list[int]:
  """The steps of the run's complete checkpoints (none while a save is unfinished)."""
  folder = folder_of(run_folder)
  return ocp.utils.checkpoint_steps(folder) if os.path.isdir(folder) else []


def check_resumable(run_folder: str, config: Mapping[str, Any], may_change: tuple[str, ...] = ()
                    ) -> None:
  """For ``--resume``, before anything is written: a checkpoint exists, and the configuration
  equals the saved ``config.json`` except for the fields ``may_change``.

  Raises:
    cli.FlagError: naming ``resume``.
  """
  saved_path = os.path.join(run_folder, "config.json")
  cli.check(bool(saved_steps(run_folder)) and os.path.isfile(saved_path), "resume",
            f"no checkpoint in {folder_of(run_folder)}")
  saved = cli.load_json(saved_path, "resume")
  current = json.loads(json.dumps(dict(config)))  # tuples as lists, like the saved file
  changed = sorted(k for k in set(saved) | set(current)
                   if k not in may_change and saved.get(k) != current.get(k))
  cli.check(not changed, "resume", f"the configuration differs from the saved run in {changed}")


def manager(run_folder: str, resume: bool) -> ocp.CheckpointManager:
  """The checkpoints of ``<run_folder>/checkpoints``; a fresh run (not ``resume``) deletes old
  ones, which belong to an earlier run of the same name."""
  logging.set_verbosity(logging.WARNING)  # orbax logs every save's stages at INFO
  folder = os.path.abspath(folder_of(run_folder))
  if not resume and os.path.isdir(folder):
    shutil.rmtree(folder)
  return ocp.CheckpointManager(folder, options=ocp.CheckpointManagerOptions(
      max_to_keep=KEEP, cleanup_tmp_directories=True))


def _is_key(leaf: Any) -> bool:
  return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _unkey(tree: Any) -> Any:
  """Typed PRNG keys as their raw uint32 data, which orbax can store."""
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _rekey(tree: Any, template: Any) -> Any:
  return jax.tree.map(lambda x, t: jax.random.wrap_key_data(x, impl=jax.random.key_impl(t))
                      if _is_key(t) else x, tree, template)


def non_finite_leaf(tree: Any) -> str | None:
  """The path of the first floating-point leaf of ``tree`` holding a NaN or infinity, or None."""
  leaves = [(path, leaf) for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
            if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)]
  finite = jax.device_get([jnp.all(jnp.isfinite(leaf)) for _, leaf in leaves])
  for (path, _), ok in zip(leaves, finite):
    if not ok:
      return jax.tree_util.keystr(path)
  return None


def _stopped(manager_: ocp.CheckpointManager | None, label: str) -> str:
  """The word stopped, and where the last good checkpoint is (once its writing has finished)."""
  if manager_ is None:
    return "stopped"
  manager_.wait_until_finished()
  step = manager_.latest_step()
  if step is None:
    return "stopped before the first checkpoint"
  return f"stopped; the last good checkpoint is {label} {step} in {manager_.directory}"


def check_state(step: int, state: Any, label: str = "step",
                manager_: ocp.CheckpointManager | None = None) -> None:
  """Raises ``NonFiniteError`` naming ``step`` and the first non-finite leaf of ``state``."""
  bad = non_finite_leaf(state)
  if bad is not None:
    raise NonFiniteError(f"{label} {step}: non-finite values in the training state at {bad}; "
                         f"{_stopped(manager_, label)}")


def save(manager_: ocp.CheckpointManager, step: int, state: Any, histories: History,
         label: str = "step") -> None:
  """Saves ``state`` and ``histories`` (name -> array) as checkpoint ``step``, in the background.

  Raises:
    NonFiniteError: when a floating-point leaf of ``state`` is not finite (nothing is saved).
  """
  check_state(step, state, label, manager_)
  manager_.save(step, args=ocp.args.Composite(
      # On the host: a checkpoint then has no device layout, and restores on any devices.
      state=ocp.args.StandardSave(jax.device_get(_unkey(state))),
      histories=ocp.args.StandardSave({k: np.asarray(v) for k, v in histories.items()})))


def restore_latest(manager_: ocp.CheckpointManager, template: Any
                   ) -> tuple[int, Any, History] | None:
  """``(step, state, histories)`` of the latest checkpoint, ``state`` with ``template``'s
  structure, dtypes and shardings; None when there is none."""
  step = manager_.latest_step()
  if step is None:
    return None
  restored = manager_.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(_unkey(template)), histories=ocp.args.StandardRestore()))
  histories = {k: np.asarray(v) for k, v in restored["histories"].items()}
  return step, _rekey(restored["state"], template), histories


def resume(manager_: ocp.CheckpointManager | None, template: Any, label: str = "step",
           histories: History | None = None) -> tuple[int, Any, History]:
  """``(steps done, state, histories)`` from the latest checkpoint of ``manager_``, announced on
  stdout ("resumed from <label> <step>"); ``(0, template, histories or {})`` when there is none
  (or no manager).

  Raises:
    cli.FlagError: naming ``resume``, when the checkpoint's structure differs from ``template``.
  """
  try:
    restored = None if manager_ is None else restore_latest(manager_, template)
  except ValueError as e:  # orbax's message lists every leaf: too long for one line
    raise cli.FlagError("resume", f"the checkpoint in {manager_.directory} does not fit this "
                        "version's training state (a different structure, e.g. written before a "
                        "change to the networks); start a new run") from e
  if restored is None:
    return 0, template, {} if histories is None else histories
  print(f"resumed from {label} {restored[0]}", flush=True)
  return restored


def read_latest(run_folder: str) -> tuple[int, Any, History] | None:
  """``(step, state, histories)`` of the latest checkpoint of a run, without a template: the
  state's arrays come back as NumPy arrays in nested lists and dicts (PRNG keys as their data),
  e.g. to inspect or compare runs. None when there is none."""
  folder = os.path.abspath(folder_of(run_folder))
  if not os.path.isdir(folder):
    return None
  with ocp.CheckpointManager(folder, options=ocp.CheckpointManagerOptions(read_only=True)) as m:
    step = m.latest_step()
    if step is None:
      return None
    restored = m.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(), histories=ocp.args.StandardRestore()))
  return step, restored["state"], {k: np.asarray(v) for k, v in restored["histories"].items()}


def _as_dict(outputs: Any) -> dict[str, np.ndarray]:
  return dict(outputs._asdict()) if hasattr(outputs, "_asdict") else dict(outputs)


def check_outputs(step_before: int, outputs: Any, label: str = "step",
                  manager_: ocp.CheckpointManager | None = None) -> None:
  """Raises ``NonFiniteError`` naming the first step and quantity of ``outputs`` (per-step
  NumPy arrays, a NamedTuple or a dict, for steps ``step_before + 1 …``) that is not finite."""
  for name, values in _as_dict(outputs).items():
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.inexact):
      rows = values.reshape(values.shape[0], -1)
      bad = ~np.isfinite(rows).all(axis=1)
      if bad.any():
        first = int(np.argmax(bad))
        value = rows[first][~np.isfinite(rows[first])][0]
        raise NonFiniteError(f"{label} {step_before + first + 1}: {name} is {value}; "
                             f"{_stopped(manager_, label)}")


def train_in_blocks(
    advance: Callable[[Any, int], tuple[Any, Any]],
    carry: Any,
    manager_: ocp.CheckpointManager | None,
    histories: History,
    *,
    num_steps: int,
    block_size: int,
    chunk_size: int,
    done: int = 0,
    offset: int = 0,
    prefix: str = "",
    label: str = "step",
    to_save: Callable[[Any], Any] = lambda carry: carry,
    on_chunk: Callable[[int, Any], None] | None = None,
    on_block: Callable[[int, Any], None] | None = None,
) -> tuple[Any, History]:
  """Steps ``done … num_steps`` of a loop, checked for finiteness and checkpointed per block.

  Args:
    advance: ``advance(carry, length)`` of ``common.training.loops.make_chunk_runner``.
    carry: the loop state after ``done`` steps (restored, or initial when ``done`` is 0).
    manager_: from ``manager``; None checks finiteness but saves nothing.
    histories: name -> per-step array so far; each block's outputs (a NamedTuple or dict of
      per-step arrays) are appended as ``<prefix><field>``. Updated in place and returned.
    num_steps: the loop's length.
    block_size: steps between checkpoints; blocks end at multiples of it from step 0 (and at
      ``num_steps``), so a run resumed from a checkpoint of the same ``block_size`` replays the
      same compiled calls; resumed at a ``done`` that is not a multiple (the last block of a run
      whose length was then extended), the first block is shortened to end on the next one.
    chunk_size: steps per compiled call (progress and finiteness checks after each).
    done: steps already done (a checkpoint's, when resuming).
    offset: the number of the loop's step 0 in the run's step count (checkpoints are numbered
      ``offset + steps done``; a run of several loops, like ASBS's stages, counts them all).
    prefix: put before the output fields' names in ``histories``.
    label: the step's name in messages ("iteration", "epoch").
    to_save: the tree saved from the carry (e.g. with more state around it), the same function
      as the one giving the restore template.
    on_chunk: ``on_chunk(steps_done, chunk_outputs)`` after each chunk, for progress lines.
    on_block: ``on_block(steps_done, carry)`` after each block, before it is saved (e.g. an
      evaluation whose results ``to_save`` includes).

  Returns:
    ``(carry, histories)`` after ``num_steps`` steps.

  Raises:
    NonFiniteError: at the first non-finite output or state; the last good checkpoint is kept.
  """

  def chunk_done(steps, outputs):
    length = jax.tree.leaves(outputs)[0].shape[0]
    check_outputs(offset + steps - length, outputs, label, manager_)
    if on_chunk is not None:
      on_chunk(steps, outputs)

  def block_done(steps, carry, outputs):
    for name, values in _as_dict(outputs).items():
      key = prefix + name
      histories[key] = np.concatenate([histories[key], values]) if key in histories else values
    check_state(offset + done + steps, carry, label, manager_)  # before on_block evaluates it
    if on_block is not None:
      on_block(done + steps, carry)
    if manager_ is not None:
      save(manager_, offset + done + steps, to_save(carry), histories, label)

  try:
    if done < num_steps:
      carry, _ = loops.scan_in_blocks(
          advance, carry, num_steps - done, block_size, chunk_size,
          lambda steps, outputs: chunk_done(done + steps, outputs), block_done,
          first_block=block_size - done % block_size)
  finally:
    if manager_ is not None:
      manager_.wait_until_finished()
  return carry, histories

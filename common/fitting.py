"""Minibatch training of a loss ``loss_fn(params, key, batch)`` by optax, in compiled chunks.

Batches are drawn on the device (rows with replacement), so a whole chunk of optimiser steps is
one ``lax.scan`` and the host sees the losses once per chunk (``common.loops``). A non-finite
loss or parameter stops the training (``common.checkpoint.NonFiniteError``); with a checkpoint
manager the state is saved every ``checkpoint_every`` steps and training resumes from the
latest checkpoint.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

from common import checkpoint
from common import cli
from common import loops

LossFn = Callable[[Any, jax.Array, tuple[jax.Array, ...]], jax.Array]


class FitState(NamedTuple):
  key: jax.Array
  params: Any
  opt_state: optax.OptState
  average: Any  # exponential moving average of params (a copy of params when not averaging)


def fit(key: jax.Array, params: Any, loss_fn: LossFn, optimizer: optax.GradientTransformation,
        data: tuple[jax.Array, ...], *, batch_size: int, num_steps: int, chunk_size: int = 500,
        label: str | None = "step", ema_decay: float | None = None,
        manager: ocp.CheckpointManager | None = None, checkpoint_every: int = 1000,
        ) -> tuple[Any, np.ndarray]:
  """Runs ``num_steps`` Adam-style steps; returns (params, per-step losses (num_steps,)).

  With ``ema_decay`` = d the returned parameters are the exponential moving average
  θ̄ ← d θ̄ + (1 − d) θ of the iterates (Polyak averaging, as every DDPM since Ho et al. 2020,
  App. B, samples from): at a constant learning rate the last iterate of a diffusion model is
  noisy enough to ruin its samples.

  Args:
    key: randomness of the batches and of ``loss_fn``.
    params: initial parameters.
    loss_fn: ``loss_fn(params, key, batch)`` with ``batch`` rows of every array of ``data``.
    optimizer: an optax transformation.
    data: arrays with one leading size N.
    batch_size: rows per step.
    num_steps: optimiser steps.
    chunk_size: steps per compiled call (progress is printed per chunk).
    label: progress label; None prints nothing.
    ema_decay: None to return the last iterate, or the decay d ∈ [0, 1) of the average.
    manager: checkpoints (``common.checkpoint.manager``) to resume from and save to; None: none.
    checkpoint_every: steps between checkpoints (with a ``manager``).
  """
  if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
    raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay}")
  data = tuple(jnp.asarray(a) for a in data)
  num_rows = data[0].shape[0]
  loss_and_grad = jax.value_and_grad(loss_fn)

  def step(state: FitState) -> tuple[FitState, jax.Array]:
    key, key_rows, key_loss = jax.random.split(state.key, 3)
    rows = jax.random.randint(key_rows, (batch_size,), 0, num_rows)
    loss, grads = loss_and_grad(state.params, key_loss, tuple(a[rows] for a in data))
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    average = params if ema_decay is None else optax.incremental_update(
        params, state.average, 1.0 - ema_decay)
    return FitState(key, params, opt_state, average), {"loss": loss}

  state = FitState(key, params, optimizer.init(params), params)
  done, state, histories = checkpoint.resume(manager, state)
  report = cli.Progress(num_steps - done, label) if label else None
  on_chunk = (lambda steps, out: report(steps - done, loss=out["loss"][-1])) if report else None
  state, histories = checkpoint.train_in_blocks(
      loops.make_chunk_runner(step), state, manager, histories, num_steps=num_steps,
      block_size=checkpoint_every if manager is not None else num_steps,
      chunk_size=chunk_size, done=done, on_chunk=on_chunk)
  return state.average, histories["loss"]

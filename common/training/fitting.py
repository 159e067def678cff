"""Minibatch training of a loss ``loss_fn(params, key, batch)`` by optax, as one algorithm.

``minibatch_descent`` is the algorithm (``common.types``): one optimiser step on one minibatch,
with an optional exponential moving average of the iterates. ``fit`` runs it with the training
driver (``common.training.driver``): batches are drawn on the device (rows with replacement), so a
whole chunk of optimiser steps is one ``lax.scan``; a non-finite loss or parameter stops the
training; with a checkpoint manager the state is saved every ``checkpoint_every`` steps and
training resumes from the latest checkpoint.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

from common import types
from common.training import driver

LossFn = Callable[[Any, jax.Array, tuple[jax.Array, ...]], jax.Array]


class FitState(NamedTuple):
  params: Any
  opt_state: optax.OptState
  average: Any  # exponential moving average of params (a copy of params when not averaging)


class FitInfo(NamedTuple):
  loss: jax.Array


def minibatch_descent(loss_fn: LossFn, optimizer: optax.GradientTransformation, *,
                      ema_decay: float | None = None) -> types.Algorithm:
  """``init(key, params) -> FitState``; ``step(key, state, *batch) -> (FitState, FitInfo)``.

  With ``ema_decay`` = d the state's ``average`` is θ̄ ← d θ̄ + (1 − d) θ over the iterates
  (Polyak averaging, as every DDPM since Ho et al. 2020, App. B, samples from): at a constant
  learning rate the last iterate of a diffusion model is noisy enough to ruin its samples.
  """
  if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
    raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay}")
  loss_and_grad = jax.value_and_grad(loss_fn)

  def init(key: jax.Array, params: Any) -> FitState:
    del key  # the initial state is the given parameters
    return FitState(params, optimizer.init(params), params)

  def step(key: jax.Array, state: FitState, *batch: jax.Array) -> tuple[FitState, FitInfo]:
    loss, grads = loss_and_grad(state.params, key, batch)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    average = params if ema_decay is None else optax.incremental_update(
        params, state.average, 1.0 - ema_decay)
    return FitState(params, opt_state, average), FitInfo(loss)

  return types.Algorithm(init, step)


def row_sampler(data: tuple[jax.Array, ...], batch_size: int) -> driver.BatchFn:
  """``batch_fn(key)``: ``batch_size`` rows, drawn with replacement, of every array of ``data``."""
  data = tuple(jnp.asarray(a) for a in data)

  def draw(key: jax.Array) -> tuple[jax.Array, ...]:
    rows = jax.random.randint(key, (batch_size,), 0, data[0].shape[0])
    return tuple(a[rows] for a in data)

  return draw


def fit(key: jax.Array, params: Any, loss_fn: LossFn, optimizer: optax.GradientTransformation,
        data: tuple[jax.Array, ...], *, batch_size: int, num_steps: int, chunk_size: int = 500,
        label: str | None = "step", ema_decay: float | None = None,
        manager: ocp.CheckpointManager | None = None, checkpoint_every: int = 1000,
        ) -> tuple[Any, np.ndarray]:
  """Runs ``num_steps`` optimiser steps; returns (params, per-step losses (num_steps,)).

  Args:
    key: randomness of the batches and of ``loss_fn`` (step i draws from ``fold_in(key, i)``).
    params: initial parameters.
    loss_fn: ``loss_fn(params, key, batch)`` with ``batch`` rows of every array of ``data``.
    optimizer: an optax transformation.
    data: arrays with one leading size N.
    batch_size: rows per step.
    num_steps: optimiser steps.
    chunk_size: steps per compiled call (progress is printed per chunk).
    label: progress label; None prints nothing.
    ema_decay: None to return the last iterate, or the decay d ∈ [0, 1) of the average returned.
    manager: checkpoints (``common.training.checkpoint.manager``) to resume from and save to.
    checkpoint_every: steps between checkpoints (with a ``manager``).
  """
  algorithm = minibatch_descent(loss_fn, optimizer, ema_decay=ema_decay)
  done, state, histories = driver.restore(manager, algorithm.init(key, params))
  state, histories = driver.train(
      algorithm.step, state, key, num_steps=num_steps, chunk_size=chunk_size,
      checkpoint_every=checkpoint_every if manager is not None else None, manager=manager,
      done=done, histories=histories, batch_fn=row_sampler(data, batch_size),
      progress_fields=("loss",), label=label or "step", progress=label is not None)
  return state.average, histories["loss"]

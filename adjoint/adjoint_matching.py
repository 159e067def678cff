"""Reciprocal Adjoint Matching: the training epoch of Adjoint Sampling (Havens et al. 2025).

For the base process dX = σ(t) dW, the optimal control of the SOC problem with terminal cost g
has u*(t, x) = −σ(t) E[∇g(X₁) | X_t = x] under the optimal process, whose paths given (X₀, X₁)
are base-process bridges (the reciprocal property). Hence the regression (Havens et al. 2025,
eq. 15, written for f = u/σ as in ``adjoint.controlled_sde``):

    L(θ) = E_{(X₀, X₁, a) ~ buffer, t ~ U[0,1], X_t ~ bridge} ½‖u_θ(t, X_t)/σ(t) + a‖²,

where the adjoint a = ∇g(X₁) is computed once, when the endpoint enters the buffer. Adjoint
Sampling takes X₀ = 0 and g = E + log p₁^base, i.e. a = ∇E(X₁) − X₁/σ̄² (clipped); ASBS
(Liu et al. 2025) takes a = ∇E(X₁) + h_φ(X₁) with a learned corrector (``adjoint.asbs_training``).

One epoch: simulate ``num_paths`` paths without gradients, push (X₀, X₁, a) into a FIFO buffer,
then take ``inner_steps`` optimiser steps on minibatches drawn from the buffer. The factory
``reciprocal_adjoint_matching`` returns a ``common.types.Sampler`` whose ``step`` is one
epoch.
"""

from typing import Any, Callable, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from adjoint import controlled_sde
from adjoint import schedules
from common import types
from common.infra import parallel
from common.training import replay_buffer

PriorSampler = Callable[[jax.Array, int], jax.Array]  # (key, n) -> X₀ of shape (n, d)
TerminalAdjoint = Callable[..., jax.Array]  # (X₁ (n, d), *args) -> a (n, d)


class Transition(NamedTuple):
  """One buffer item: a path's endpoints and the adjoint at its end."""
  x0: jax.Array
  x1: jax.Array
  adjoint: jax.Array


class AdjointMatchingState(NamedTuple):
  params: Any  # trained by the optimiser
  sampling_params: Any  # their exponential moving average, which simulates the paths
  num_updates: jax.Array  # optimiser steps taken so far
  opt_state: optax.OptState
  buffer: replay_buffer.ReplayBuffer


class MatchingInfo(NamedTuple):
  """One matching epoch's diagnostics (adjoint matching, or ASBS's corrector matching)."""
  loss: jax.Array  # mean over the epoch's optimiser steps
  sample_mean: jax.Array  # (d,), mean of the epoch's X₁ in observed coordinates
  sample_std: jax.Array  # (d,)


def init_control(control: nn.Module, key: jax.Array, dim: int) -> Any:
  """The parameters of f_θ(t, x) for d-dimensional x."""
  return control.init(key, jnp.zeros(()), jnp.zeros((1, dim)))


def matching_loss(
    params: Any,
    apply_fn: controlled_sde.ScaledControlFn,
    schedule: schedules.GeometricSchedule,
    key: jax.Array,
    batch: Transition,
    project: controlled_sde.Projection | None = None,
) -> jax.Array:
  """½ E‖f_θ(t, X_t) + a‖², t ~ U[0, 1], X_t from the bridge between the batch's X₀ and X₁.

  With a projection P (zero centre of mass) the bridge is that of the projected base process:
  its mean is already centred, so projecting the draw projects its noise.
  """
  key_time, key_bridge = jax.random.split(key)
  t = jax.random.uniform(key_time, batch.x1.shape[:1], batch.x1.dtype)
  xt = schedules.sample_bridge(key_bridge, schedule, t, batch.x0, batch.x1)
  if project is not None:
    xt = project(xt)
  residual = apply_fn(params, t, xt) + batch.adjoint
  return jnp.mean(0.5 * jnp.sum(residual**2, axis=-1))


def _ema_update(params: Any, average: Any, num_updates: jax.Array, ema_decay: float) -> Any:
  """θ̄ ← d θ̄ + (1 − d) θ with d = min(ema_decay, (1 + n)/(10 + n)): early parameters are
  forgotten fast. The mode weights of a multimodal target sit on a nearly neutral direction of
  the matching fixed point, so minibatch noise in θ makes them drift; averaging damps it."""
  decay = jnp.minimum(ema_decay, (1.0 + num_updates) / (10.0 + num_updates))
  return optax.incremental_update(params, average, 1.0 - decay)


def path_sampler(
    apply_fn: controlled_sde.ScaledControlFn, schedule: schedules.GeometricSchedule,
    sample_prior: PriorSampler, num_steps: int,
    observe: Callable[[jax.Array], jax.Array] = lambda x: x,
    project: controlled_sde.Projection | None = None,
) -> types.SampleFn:
  """``sample(key, params, n)``: X₁ of n paths of the controlled SDE from X₀ ~ prior, observed."""

  def sample(key: jax.Array, params: Any, num: int) -> jax.Array:
    key_prior, key_paths = jax.random.split(key)
    x1 = controlled_sde.simulate(
        key_paths, apply_fn, params, schedule, sample_prior(key_prior, num), num_steps, project)
    return observe(x1)

  return sample


def reciprocal_adjoint_matching(
    *,
    control: nn.Module,
    dim: int,
    schedule: schedules.GeometricSchedule,
    optimizer: optax.GradientTransformation,
    sample_prior: PriorSampler,
    terminal_adjoint: TerminalAdjoint,
    num_paths: int,
    num_steps: int,
    inner_steps: int,
    batch_size: int,
    buffer_capacity: int,
    ema_decay: float = 0.0,
    observe: Callable[[jax.Array], jax.Array] = lambda x: x,
    project: controlled_sde.Projection | None = None,
) -> types.Sampler:
  """Adjoint matching by epochs (Havens et al. 2025, eq. 15).

  Args:
    control: the network f_θ(t, x), the control divided by σ(t) (``controlled_sde``).
    dim, schedule: d, the dimension of x, and the noise schedule σ(t).
    optimizer, sample_prior: an optax transformation (Adam in the papers); draws X₀.
    terminal_adjoint: a(X₁, *args), the regression target; ``*args`` of ``step`` go to it (e.g.
      the corrector parameters of ASBS), so they may change between epochs without recompiling.
    num_paths, num_steps: paths simulated per epoch, and their Euler–Maruyama steps.
    inner_steps, batch_size: optimiser steps per epoch, and buffer items per optimiser step
      (split over the devices).
    buffer_capacity: FIFO buffer size (≥ ``num_paths``).
    ema_decay: paths are simulated with the moving average θ̄ ← d θ̄ + (1 − d) θ, d =
      min(ema_decay, (1 + n)/(10 + n)) after the n-th optimiser step (0: θ itself); it damps
      the minibatch noise that makes the mode weights drift (see ``_ema_update``).
    observe: maps X₁ to the coordinates of the info's mean/std and of ``sample``.
    project: P of the paths and bridges (``controlled_sde.simulate``; zero centre of mass for
      particle systems), or None; the prior's draws and the adjoints must lie in its range.

  Returns:
    ``Sampler``: ``init(key) -> AdjointMatchingState``, ``step(key, state, *args) -> (state,
    MatchingInfo)``, ``sample(key, params, n) -> (n, d)`` with the state's ``sampling_params``.
  """
  if buffer_capacity < num_paths:
    raise ValueError(f"buffer_capacity {buffer_capacity} < num_paths {num_paths}")
  loss_and_grad = jax.value_and_grad(matching_loss)

  def init(key: jax.Array) -> AdjointMatchingState:
    params = init_control(control, key, dim)
    zero = jnp.zeros((dim,), jnp.float32)
    buffer = replay_buffer.init(Transition(zero, zero, zero), buffer_capacity)
    return AdjointMatchingState(params, params, jnp.zeros((), jnp.int32), optimizer.init(params),
                                buffer)

  def optimiser_step(carry, key):
    params, sampling_params, num_updates, opt_state, buffer = carry
    key_batch, key_loss = jax.random.split(key)
    # Each device takes a share of the minibatch; jit all-reduces the gradient.
    batch = parallel.shard_batch(replay_buffer.sample(key_batch, buffer, batch_size))
    loss, grads = loss_and_grad(params, control.apply, schedule, key_loss, batch, project)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    sampling_params = _ema_update(params, sampling_params, num_updates, ema_decay)
    return (params, sampling_params, num_updates + 1, opt_state, buffer), loss

  def step(key: jax.Array, state: AdjointMatchingState, *adjoint_args
           ) -> tuple[AdjointMatchingState, MatchingInfo]:
    key_prior, key_paths, key_train = jax.random.split(key, 3)
    x0 = sample_prior(key_prior, num_paths)
    x1 = controlled_sde.simulate(
        key_paths, control.apply, state.sampling_params, schedule, x0, num_steps, project)
    adjoint = terminal_adjoint(x1, *adjoint_args)
    chex.assert_equal_shape([x0, x1, adjoint])
    # Paths and adjoints are computed split over the devices; the buffer is whole on each.
    buffer = replay_buffer.add(state.buffer, parallel.gather(Transition(x0, x1, adjoint)))
    carry = (state.params, state.sampling_params, state.num_updates, state.opt_state, buffer)
    carry, losses = jax.lax.scan(optimiser_step, carry, jax.random.split(key_train, inner_steps))
    observed = observe(x1)
    info = MatchingInfo(jnp.mean(losses), jnp.mean(observed, 0), jnp.std(observed, 0))
    return AdjointMatchingState(*carry), info

  return types.Sampler(init, step, path_sampler(control.apply, schedule, sample_prior, num_steps,
                                                 observe, project))

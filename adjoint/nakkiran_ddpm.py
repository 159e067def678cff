"""DDPM and DDIM in one dimension, as in Nakkiran et al. (2024), "Step-by-Step Diffusion: An
Elementary Tutorial", §2–§4.

Forward process on the grid t ∈ {0, Δt, …, 1}: x_{t+Δt} = x_t + N(0, σ_q² Δt), x₀ ~ p₀, so
x_t ~ p₀ ∗ N(0, σ_q² t). For the target p₀ = N(0, τ) the reverse regression has the closed form

    f*(x, t) = E[x_{t−Δt} | x_t = x] = x (τ + σ_q²(t − Δt)) / (τ + σ_q² t),

and a network f_θ(x, t) is trained by ‖f_θ(x_{t+Δt}, t + Δt) − x_t‖² (tutorial, eq. 12).

Samplers, from x₁ ~ the starting law down to t = 0:
  DDPM (tutorial Alg. 2 / eq. 13):  x_{t−Δt} = f_θ(x_t, t) + N(0, σ_q² Δt);
  DDIM (tutorial Alg. 3 / eq. 25):  x_{t−Δt} = x_t + λ (f_θ(x_t, t) − x_t),
                                    λ = σ_t / (σ_{t−Δt} + σ_t) = √t / (√(t − Δt) + √t).
The tutorial starts from N(0, σ_q²), which ignores τ; the exact p₁ is N(0, τ + σ_q²).
"""

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from common import types

ApplyFn = Callable[[Any, jax.Array, jax.Array], jax.Array]  # f(params, t, x (N, 1)) -> (N, 1)
START_LAWS = ("exact", "tutorial")


class DiffusionSetup(NamedTuple):
  """The forward process: target N(0, τ), noise σ_q, step Δt, T = 1 (a PyTree of floats)."""
  target_variance: float  # τ
  sigma_q: float
  dt: float

  @property
  def num_steps(self) -> int:
    return int(round(1.0 / self.dt))


def optimal_denoiser(setup: DiffusionSetup, x: jax.Array, t: jax.Array) -> jax.Array:
  """f*(x, t) = x (τ + σ_q²(t − Δt)) / (τ + σ_q² t) for the Gaussian target."""
  variance = lambda s: setup.target_variance + setup.sigma_q**2 * s
  return x * variance(t - setup.dt) / variance(t)


def start_std(setup: DiffusionSetup, start: str) -> float:
  """Std of x₁: √(τ + σ_q²) for ``exact``, σ_q for ``tutorial``."""
  if start == "exact":
    return (setup.target_variance + setup.sigma_q**2) ** 0.5
  if start == "tutorial":
    return setup.sigma_q
  raise ValueError(f"unknown start law {start!r}; expected one of {START_LAWS}")


def regression_loss(
    params: Any, apply_fn: ApplyFn, setup: DiffusionSetup, key: jax.Array, batch_size: int
) -> jax.Array:
  """E ‖f_θ(x_{t+Δt}, t + Δt) − x_t‖² over x₀ ~ N(0, τ) and t uniform on {0, …, 1 − Δt}."""
  key_x0, key_t, key_xt, key_step = jax.random.split(key, 4)
  shape = (batch_size, 1)
  x0 = jnp.sqrt(setup.target_variance) * jax.random.normal(key_x0, shape)
  t = setup.dt * jax.random.randint(key_t, (batch_size,), 0, setup.num_steps).astype(x0.dtype)
  xt = x0 + setup.sigma_q * jnp.sqrt(t)[:, None] * jax.random.normal(key_xt, shape)
  x_next = xt + setup.sigma_q * jnp.sqrt(setup.dt) * jax.random.normal(key_step, shape)
  return jnp.mean((apply_fn(params, t + setup.dt, x_next) - xt) ** 2)


def sample(
    key: jax.Array, apply_fn: ApplyFn, params: Any, setup: DiffusionSetup, num: int,
    start: str = "exact", deterministic: bool = False,
) -> jax.Array:
  """``num`` draws (num, 1) by the DDPM sampler, or DDIM when ``deterministic``."""
  key_start, key_noise = jax.random.split(key)
  x1 = start_std(setup, start) * jax.random.normal(key_start, (num, 1))
  times = setup.dt * jnp.arange(setup.num_steps, 0, -1, dtype=x1.dtype)  # 1, 1 − Δt, …, Δt

  def ddpm_step(x, inputs):
    t, key_t = inputs
    noise = setup.sigma_q * jnp.sqrt(setup.dt) * jax.random.normal(key_t, x.shape, x.dtype)
    return apply_fn(params, t, x) + noise, None

  def ddim_step(x, inputs):
    t, _ = inputs
    lam = jnp.sqrt(t) / (jnp.sqrt(jnp.maximum(t - setup.dt, 0.0)) + jnp.sqrt(t))
    return x + lam * (apply_fn(params, t, x) - x), None

  keys = jax.random.split(key_noise, setup.num_steps)
  x0, _ = jax.lax.scan(ddim_step if deterministic else ddpm_step, x1, (times, keys))
  return x0


class DDPMState(NamedTuple):
  params: Any
  opt_state: optax.OptState


class DDPMInfo(NamedTuple):
  loss: jax.Array  # mean over the epoch's steps
  sample_mean: jax.Array  # of ``num_monitor`` DDPM samples after the epoch
  sample_std: jax.Array


def ddpm_training(
    *, network: nn.Module, setup: DiffusionSetup, optimizer: optax.GradientTransformation,
    steps_per_epoch: int, batch_size: int, num_monitor: int, start: str,
) -> types.Sampler:
  """Training f_θ by epochs of ``regression_loss`` (tutorial, eq. 12).

  Args:
    network: f_θ(params, t, x), x of shape (N, 1).
    setup: the forward process.
    optimizer: an optax transformation.
    steps_per_epoch: optimiser steps per epoch.
    batch_size: fresh draws per optimiser step.
    num_monitor: DDPM draws after each epoch for the info's mean and std.
    start: the DDPM sampler's start law, one of ``START_LAWS``.

  Returns:
    ``Sampler(init, step, sample)``: ``init(key) -> DDPMState``,
    ``step(key, state) -> (state, DDPMInfo)`` (one epoch), and ``sample(key, params, n)``, n DDPM
    draws (n, 1) from ``start``.
  """
  loss_and_grad = jax.value_and_grad(regression_loss)

  def init(key: jax.Array) -> DDPMState:
    params = network.init(key, jnp.zeros(()), jnp.zeros((1, 1)))
    return DDPMState(params, optimizer.init(params))

  def optimiser_step(state, key):
    loss, grads = loss_and_grad(state.params, network.apply, setup, key, batch_size)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    return DDPMState(optax.apply_updates(state.params, updates), opt_state), loss

  def draw(key: jax.Array, params: Any, num: int) -> jax.Array:
    return sample(key, network.apply, params, setup, num, start)

  def step(key: jax.Array, state: DDPMState) -> tuple[DDPMState, DDPMInfo]:
    key_train, key_sample = jax.random.split(key)
    state, losses = jax.lax.scan(
        optimiser_step, state, jax.random.split(key_train, steps_per_epoch))
    draws = draw(key_sample, state.params, num_monitor)
    return state, DDPMInfo(jnp.mean(losses), jnp.mean(draws), jnp.std(draws))

  return types.Sampler(init, step, draw)

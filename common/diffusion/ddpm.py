"""Discrete-time DDPM (Ho et al. 2020) with ε-prediction: schedules, loss, ancestral and DDIM sampling.

Forward process on t = 0..T−1 (index units): x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε, ᾱ_t = Π_{s≤t}(1 − β_s).
The ε-network takes a *float* t (so that samplers may also query it between integer steps) and
an optional scalar condition y, for conditional models p(x | y).

Samplers take ``eps_fn(x, t) -> ε̂`` with t an integer index, so a caller can modify the
prediction (e.g. classifier guidance, Dhariwal & Nichol 2021, eq. 14) without touching the loop:
  ancestral (Ho et al. 2020, Alg. 2, σ_t² = β̃_t the posterior variance);
  DDIM with η = 0 on a decreasing list of steps (Song et al. 2021, eq. 12).
"""

import math
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]  # (x (N, d), t int ()) -> ε̂ (N, d)


class DiscreteSchedule(NamedTuple):
  """β_t and ᾱ_t for t = 0..T−1 (float32 arrays of shape (T,))."""
  betas: jax.Array
  alpha_bars: jax.Array

  @property
  def num_steps(self) -> int:
    return self.betas.shape[0]


def _from_alpha_bars(alpha_bars: np.ndarray) -> DiscreteSchedule:
  betas = 1.0 - alpha_bars / np.concatenate([[1.0], alpha_bars[:-1]])
  return DiscreteSchedule(jnp.asarray(betas, jnp.float32), jnp.asarray(alpha_bars, jnp.float32))


def linear_alpha_bars(num_steps: int = 1000, beta_start: float = 1e-4,
                      beta_end: float = 0.02) -> np.ndarray:
  """ᾱ_t = Π_{s≤t} (1 − β_s), β linear from ``beta_start`` to ``beta_end``, in float64."""
  return np.cumprod(1.0 - np.linspace(beta_start, beta_end, num_steps, dtype=np.float64))


def linear_alpha_bars_float32(num_steps: int, beta_start: float, beta_end: float) -> jax.Array:
  """``linear_alpha_bars`` computed in float32 throughout (DiKL's levels, He et al. 2025).

  Not the float64 values rounded: a third to three quarters of the entries differ in the last
  bit, and DiKL's published figures were trained with these.
  """
  return jnp.cumprod(1.0 - jnp.linspace(beta_start, beta_end, num_steps, dtype=jnp.float32))


def linear_schedule(num_steps: int = 1000, beta_start: float = 1e-4,
                    beta_end: float = 0.02) -> DiscreteSchedule:
  """β linear from ``beta_start`` to ``beta_end`` (Ho et al. 2020, §4); ᾱ in float64 first."""
  return _from_alpha_bars(linear_alpha_bars(num_steps, beta_start, beta_end))


def cosine_schedule(num_steps: int, offset: float = 0.008,
                    max_beta: float = 0.999) -> DiscreteSchedule:
  """ᾱ_t = f(t+1)/f(0), f(s) = cos²(π/2 · (s/T + o)/(1 + o)) (Nichol & Dhariwal 2021, eq. 17).

  β is clipped at ``max_beta`` as in the paper, so that the last step is not singular.
  """
  s = np.arange(num_steps + 1, dtype=np.float64) / num_steps
  f = np.cos(0.5 * math.pi * (s + offset) / (1.0 + offset)) ** 2
  betas = np.minimum(1.0 - f[1:] / f[:-1], max_beta)
  return _from_alpha_bars(np.cumprod(1.0 - betas))


def noise(schedule: DiscreteSchedule, x0: jax.Array, t: jax.Array,
          eps: jax.Array) -> jax.Array:
  """x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε for integer steps t of shape (N,)."""
  alpha_bar = schedule.alpha_bars[t][:, None]
  return jnp.sqrt(alpha_bar) * x0 + jnp.sqrt(1.0 - alpha_bar) * eps


def eps_loss(apply_fn: Callable[..., jax.Array], params: Any, schedule: DiscreteSchedule,
             key: jax.Array, x0: jax.Array, y: jax.Array | None = None) -> jax.Array:
  """E_{t, ε} ‖ε − ε̂(x_t, t[, y])‖² / d, t uniform on 0..T−1 (Ho et al. 2020, eq. 14)."""
  key_t, key_eps = jax.random.split(key)
  t = jax.random.randint(key_t, x0.shape[:1], 0, schedule.num_steps)
  eps = jax.random.normal(key_eps, x0.shape, x0.dtype)
  x_t = noise(schedule, x0, t, eps)
  args = () if y is None else (y,)
  return jnp.mean((apply_fn(params, x_t, t.astype(jnp.float32), *args) - eps) ** 2)


def ancestral_sample(key: jax.Array, eps_fn: EpsFn, schedule: DiscreteSchedule,
                     x_init: jax.Array) -> jax.Array:
  """x_{t−1} = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t + √β̃_t z from t = T−1 to 0, no noise at t = 0."""
  chex.assert_rank(x_init, 2)
  alpha_bars_prev = jnp.concatenate([jnp.ones((1,)), schedule.alpha_bars[:-1]])
  posterior_var = schedule.betas * (1.0 - alpha_bars_prev) / (1.0 - schedule.alpha_bars)

  def step(x, inputs):
    t, key_t = inputs
    beta, alpha_bar = schedule.betas[t], schedule.alpha_bars[t]
    mean = (x - beta / jnp.sqrt(1.0 - alpha_bar) * eps_fn(x, t)) / jnp.sqrt(1.0 - beta)
    z = jax.random.normal(key_t, x.shape, x.dtype)
    return mean + jnp.where(t > 0, jnp.sqrt(posterior_var[t]), 0.0) * z, None

  steps = jnp.arange(schedule.num_steps - 1, -1, -1)
  x0, _ = jax.lax.scan(step, x_init, (steps, jax.random.split(key, schedule.num_steps)))
  return x0


def ddim_timesteps(num_sampling_steps: int, num_steps: int) -> np.ndarray:
  """The evenly spaced decreasing steps [T − T/S, …, T/S, 0] (Song et al. 2021, 'linear')."""
  if num_steps % num_sampling_steps:
    raise ValueError(f"{num_sampling_steps} sampling steps do not divide T = {num_steps}")
  return np.arange(0, num_steps, num_steps // num_sampling_steps)[::-1].copy()


def ddim_sample(eps_fn: EpsFn, schedule: DiscreteSchedule, timesteps: jax.Array,
                x_init: jax.Array, clip_x0: float | None = None) -> jax.Array:
  """Deterministic DDIM (η = 0) along ``timesteps`` (decreasing integers, ending at 0).

  x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t,  x_prev = √ᾱ_prev x̂₀ + √(1−ᾱ_prev) ε̂, with ᾱ_prev = 1 after
  the last step, so the output is x̂₀ of step 0. ``clip_x0 = c`` clips x̂₀ to [−c, c] at every
  step, keeping ε̂ as predicted (``clip_sample`` of the diffusers DDIM scheduler).
  """
  chex.assert_rank(x_init, 2)
  timesteps = jnp.asarray(timesteps)
  x0, _ = jax.lax.scan(lambda x, inputs: (ddim_step(eps_fn, x, *inputs, clip_x0), None),
                       x_init, (timesteps, *ddim_alpha_bars(schedule, timesteps)))
  return x0


def ddim_alpha_bars(schedule: DiscreteSchedule,
                    timesteps: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(ᾱ_t, ᾱ_prev) at each of ``timesteps``, with ᾱ_prev = 1 after the last step."""
  alpha_bars = schedule.alpha_bars[timesteps]
  return alpha_bars, jnp.concatenate([alpha_bars[1:], jnp.ones((1,))])


def ddim_step(eps_fn: EpsFn, x: jax.Array, t: jax.Array, alpha_bar: jax.Array,
              alpha_bar_prev: jax.Array, clip_x0: float | None = None) -> jax.Array:
  """One step of ``ddim_sample``, from x_t to x_prev (also dispatched alone by the benchmarks)."""
  eps = eps_fn(x, t)
  x0_hat = (x - jnp.sqrt(1.0 - alpha_bar) * eps) / jnp.sqrt(alpha_bar)
  if clip_x0 is not None:
    x0_hat = jnp.clip(x0_hat, -clip_x0, clip_x0)
  return jnp.sqrt(alpha_bar_prev) * x0_hat + jnp.sqrt(1.0 - alpha_bar_prev) * eps

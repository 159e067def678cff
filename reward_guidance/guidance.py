"""Reward-directed DDIM sampling (Yuan et al. 2023, Alg. 1 in the classifier-guidance form).

With a reward predictor μ_θ and target a, the guided ε-prediction at step t is

    ε̃(x_t, t) = ε̂(x_t, t) + √(1 − ᾱ_t) · G · (μ_θ(x_t) − a) ∇_{x_t} μ_θ(x_t),

i.e. ε̂ − √(1 − ᾱ_t) ∇_{x_t} log p(y = a | x_t) for the Gaussian likelihood
log p = −G ½ (a − μ_θ(x_t))² (Dhariwal & Nichol 2021, eq. 14), the gradient taken at the noisy
x_t. ``batch_mean`` reproduces the published code, which differentiates the batch *mean* of the
loss and so divides G by the batch size B.

``guided_ddim`` is the sampler of the library's contract (``common.types.Sampler``): its step is
one guided DDIM step, its ``sample(key, GuidanceParams, n)`` the whole chain from N(0, I) noise.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from common import types
from common.diffusion import ddpm
from common.infra import parallel

PredictFn = Callable[[jax.Array], jax.Array]  # μ_θ: (N, d) -> (N,), rows independent


def guidance_term(predict: PredictFn, x: jax.Array, target: jax.Array, strength: jax.Array,
                  noise_scale: jax.Array, batch_mean: bool = False) -> tuple[jax.Array, jax.Array]:
  """(√(1−ᾱ_t) G (μ(x) − a) ∇μ(x), μ(x)) for a batch x (N, d); G/N when ``batch_mean``.

  The per-sample gradients come from one vector-Jacobian product with a vector of ones, exact
  because μ treats rows independently (no batch statistics).
  """
  predicted, vjp = jax.vjp(predict, x)
  (gradient,) = vjp(jnp.ones_like(predicted))
  if batch_mean:
    strength = strength / x.shape[0]
  return noise_scale * strength * (predicted - target)[:, None] * gradient, predicted


def guided_eps_fn(eps_fn: ddpm.EpsFn, predict: PredictFn, schedule: ddpm.DiscreteSchedule,
                  target: jax.Array, strength: jax.Array, batch_mean: bool = False) -> ddpm.EpsFn:
  """ε̃(x, t) of the module docstring (for ``ddpm.ddim_sample``)."""

  def guided(x, t):
    term, _ = guidance_term(predict, x, target, strength,
                            jnp.sqrt(1.0 - schedule.alpha_bars[t]), batch_mean)
    return eps_fn(x, t) + term

  return guided


def sample(eps_fn: ddpm.EpsFn, predict: PredictFn, schedule: ddpm.DiscreteSchedule,
           timesteps: jax.Array, x_init: jax.Array, target: jax.Array, strength: jax.Array,
           batch_mean: bool = False, clip_x0: float | None = None) -> jax.Array:
  """Guided DDIM (η = 0) from x_init along ``timesteps``; G = 0 gives unguided DDIM.

  ``clip_x0``: as in ``ddpm.ddim_sample`` (the published code's diffusers scheduler clips
  x̂₀ to the image range). The images are split over the devices (their number must divide by
  the device count); the guidance gradients are per image, so no device waits for another.
  """
  guided = guided_eps_fn(eps_fn, predict, schedule, target, strength, batch_mean)
  x_init = parallel.shard_batch(x_init, "the number of images")
  return ddpm.ddim_sample(guided, schedule, timesteps, x_init, clip_x0)


class GuidanceParams(NamedTuple):
  """What a guided draw conditions on: arrays, so one compiled sampler serves every value."""
  predictor: Any  # the parameters of μ_θ
  target: jax.Array  # a
  strength: jax.Array  # G


class State(NamedTuple):
  x: jax.Array  # (n, d) the images at the current noise level
  index: jax.Array  # () int32: DDIM steps taken


class Info(NamedTuple):
  timestep: jax.Array  # the DDPM step t the images were at before this step


def guided_ddim(*, eps_fn: ddpm.EpsFn, predictor_apply: Callable[[Any, jax.Array], jax.Array],
                schedule: ddpm.DiscreteSchedule, timesteps: jax.Array, dim: int,
                batch_mean: bool = False, clip_x0: float | None = None) -> types.Sampler:
  """Reward-guided DDIM (η = 0) of ``eps_fn`` along ``timesteps`` (module docstring).

  Args:
    eps_fn: the unconditional ε̂(x, t).
    predictor_apply: ``apply(predictor_params, x) -> μ(x)``, (N, d) -> (N,).
    schedule: the DDPM's schedule.
    timesteps: the decreasing DDIM steps (``ddpm.ddim_timesteps``).
    dim: d, the size of one sample.
    batch_mean: divide G by the batch size, as the published code does.
    clip_x0: as in ``ddpm.ddim_sample``.

  Returns:
    ``Sampler(init, step, sample)``: ``init(key, n) -> State`` (N(0, I) images),
    ``step(key, state, params) -> (State, Info)`` one guided step (deterministic, the key is
    unused), ``sample(key, params, n) -> (n, d)`` the whole chain; ``params`` is a
    ``GuidanceParams``.
  """
  timesteps = jnp.asarray(timesteps)
  alpha_bars, alpha_bars_prev = ddpm.ddim_alpha_bars(schedule, timesteps)

  def guided(params: GuidanceParams) -> ddpm.EpsFn:
    return guided_eps_fn(eps_fn, lambda x: predictor_apply(params.predictor, x), schedule,
                         params.target, params.strength, batch_mean)

  def init(key: jax.Array, n: int) -> State:
    x = jax.random.normal(key, (n, dim))
    return State(parallel.shard_batch(x, "the number of images"), jnp.zeros((), jnp.int32))

  def step(key: jax.Array, state: State, params: GuidanceParams) -> tuple[State, Info]:
    del key  # DDIM with η = 0 is deterministic
    i = state.index
    x = ddpm.ddim_step(guided(params), state.x, timesteps[i], alpha_bars[i],
                       alpha_bars_prev[i], clip_x0)
    return State(x, i + 1), Info(timesteps[i])

  def sample_chain(key: jax.Array, params: GuidanceParams, n: int) -> jax.Array:
    return sample(eps_fn, lambda x: predictor_apply(params.predictor, x), schedule, timesteps,
                  init(key, n).x, params.target, params.strength, batch_mean, clip_x0)

  return types.Sampler(init, step, sample_chain)

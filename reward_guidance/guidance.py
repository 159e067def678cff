"""Reward-directed DDIM sampling (Yuan et al. 2023, Alg. 1 in the classifier-guidance form).

With a reward predictor μ_θ and target a, the guided ε-prediction at step t is

    ε̃(x_t, t) = ε̂(x_t, t) + √(1 − ᾱ_t) · G · (μ_θ(x_t) − a) ∇_{x_t} μ_θ(x_t),

i.e. ε̂ − √(1 − ᾱ_t) ∇_{x_t} log p(y = a | x_t) for the Gaussian likelihood
log p = −G ½ (a − μ_θ(x_t))² (Dhariwal & Nichol 2021, eq. 14), the gradient taken at the noisy
x_t. ``batch_mean`` reproduces the published code, which differentiates the batch *mean* of the
loss and so divides G by the batch size B.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from common import ddpm
from common import parallel

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

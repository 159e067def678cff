"""The reward predictor μ_θ(x): a small residual ConvNet with no time input (Yuan et al. 2023, §6).

As in the published code it is trained on *noised* images x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε, with t
drawn from the sampler's own timestep list, against the clean image's label, so that its gradient
at a noisy x_t is meaningful during guided sampling. ``reward_predictor`` is that training as an
algorithm of the library's contract (``common.types``), run by ``common.training.driver``.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from common import types
from common.diffusion import ddpm
from common.digits import data as digits
from common.training import fitting


class Conv3x3(nn.Module):
  """A 'SAME' 3×3 convolution written as one matrix product on the 9 shifted copies of the input.

  Same function as ``nn.Conv(features, (3, 3))``, but XLA on CPU runs a convolution inside a
  compiled loop (our ``lax.scan`` training chunks and samplers) about 40× slower than outside
  one, whereas matrix products keep their speed.
  """
  features: int

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    """(N, H, W, C) → (N, H, W, features)."""
    height, width = h.shape[1:3]
    padded = jnp.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = jnp.concatenate([padded[:, i:i + height, j:j + width]
                               for i in range(3) for j in range(3)], axis=-1)
    return nn.Dense(self.features)(patches)


class ResConvNet(nn.Module):
  """Conv 3×3 → residual blocks h + conv(GELU(conv(GELU(h)))) → mean pool → 64 → 1.

  Attributes:
    channels: feature maps of every convolution.
    num_blocks: residual blocks.
  """
  channels: int = 32
  num_blocks: int = 2

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(N, 64) images → (N,) predicted rewards."""
    h = Conv3x3(self.channels)(x.reshape(-1, digits.SIDE, digits.SIDE, 1))
    for _ in range(self.num_blocks):
      h = h + Conv3x3(self.channels)(nn.gelu(Conv3x3(self.channels)(nn.gelu(h))))
    h = nn.gelu(nn.Dense(64)(jnp.mean(nn.gelu(h), axis=(1, 2))))
    return nn.Dense(1)(h)[:, 0]


def noised_mse(apply_fn, params: Any, key: jax.Array, batch: tuple[jax.Array, jax.Array],
               schedule: ddpm.DiscreteSchedule, timesteps: jax.Array) -> jax.Array:
  """E ‖μ_θ(x_t) − y‖² with t uniform on ``timesteps`` and x_t from the clean image."""
  x0, labels = batch
  key_t, key_eps = jax.random.split(key)
  t = jax.random.choice(key_t, timesteps, x0.shape[:1])
  x_t = ddpm.noise(schedule, x0, t, jax.random.normal(key_eps, x0.shape, x0.dtype))
  return jnp.mean((apply_fn(params, x_t) - labels) ** 2)


PredictorState = fitting.FitState  # params, opt_state, average (= params: no averaging)
PredictorInfo = fitting.FitInfo  # loss


def reward_predictor(*, network: nn.Module, optimizer: optax.GradientTransformation,
                     schedule: ddpm.DiscreteSchedule, timesteps: jax.Array) -> types.Algorithm:
  """μ_θ trained by ``noised_mse``, one optimiser step per minibatch.

  Args:
    network: the predictor (e.g. ``ResConvNet``), images (N, 64) -> rewards (N,).
    optimizer: an optax transformation (Adam in the published code).
    schedule: the DDPM's schedule, to noise the images.
    timesteps: the sampler's DDIM steps, from which each image's t is drawn.

  Returns:
    ``Algorithm(init, step)``: ``init(key) -> PredictorState`` (``network.init`` on ``key``),
    ``step(key, state, images, labels) -> (PredictorState, PredictorInfo)`` on a minibatch
    (``common.training.fitting.row_sampler`` draws one from the step's key).
  """
  timesteps = jnp.asarray(timesteps)
  descent = fitting.minibatch_descent(
      lambda params, key, batch: noised_mse(network.apply, params, key, batch, schedule,
                                            timesteps), optimizer)

  def init(key: jax.Array) -> PredictorState:
    return descent.init(key, network.init(key, jnp.zeros((1, digits.DIM))))

  return types.Algorithm(init, descent.step)

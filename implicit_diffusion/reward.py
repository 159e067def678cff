"""The two rewards of Marion et al. (2024), §5.1, for one point ``x`` in R².

Both peak at (4, 3.8) with length scale √20 and favour the half-plane x₀ ≥ 0. Neither is ever
differentiated: the reward gradient goes through the sampler's stationary law instead.
"""

from typing import Callable

import jax
import jax.numpy as jnp

REWARD_CENTRE = (4.0, 3.8)
_TAU = 20.0


def _bump(x: jax.Array) -> jax.Array:
  return jnp.exp(-((x[0] - REWARD_CENTRE[0]) ** 2 + (x[1] - REWARD_CENTRE[1]) ** 2) / _TAU)


def hard_reward(x: jax.Array) -> jax.Array:
  """``r(x) = 1[x₀ ≥ 0] · exp(−‖x − (4, 3.8)‖² / 20) / 2.5`` (the published default)."""
  return (x[0] >= 0).astype(x.dtype) * _bump(x) / 2.5


def smooth_reward(x: jax.Array) -> jax.Array:
  """``r(x) = sigmoid(x₀ / 0.5) · exp(−‖x − (4, 3.8)‖² / 20) / 0.7``."""
  return jax.nn.sigmoid(x[0] / 0.5) * _bump(x) / 0.7


REWARDS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "hard": hard_reward,
    "smooth": smooth_reward,
}

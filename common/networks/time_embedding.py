"""The time embedding of every time-conditioned network: sines and cosines of t·ω.

Two frequency ladders use it: the geometric ladder ω_k = 10000^{−k/(dim/2)} of discrete diffusion
steps (Vaswani et al. 2017; Ho et al. 2020) and the multiples ω_k = πk of continuous t ∈ [0, 1]
(Fourier features; Tancik et al. 2020).
"""

import math

import jax
import jax.numpy as jnp


def sinusoidal(t: jax.Array, frequencies: jax.Array, scale: float = 1.0) -> jax.Array:
  """[sin(scale·t·ω), cos(scale·t·ω)] over the frequencies ω; shape t.shape + (2K,)."""
  angles = scale * t[..., None] * frequencies
  return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def step_embedding(t: jax.Array, dim: int) -> jax.Array:
  """Sinusoidal embedding of a (float) diffusion step t, ω_k = 10000^{−k/(dim/2)}: t.shape + (dim,)."""
  half = dim // 2
  frequencies = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) / half)
  return sinusoidal(jnp.asarray(t, jnp.float32), frequencies)


def fourier_features(t: jax.Array, num_frequencies: int) -> jax.Array:
  """[t, sin(πkt), cos(πkt)] for k = 1..K, shape t.shape + (2K + 1,).

  Multiples of π, not 2π: with 2π every feature would be periodic on [0, 1] and the network could
  not tell t = 0 from t = 1.
  """
  t = jnp.asarray(t)
  ladder = jnp.arange(1, num_frequencies + 1, dtype=t.dtype)
  return jnp.concatenate([t[..., None], sinusoidal(t, ladder, math.pi)], axis=-1)

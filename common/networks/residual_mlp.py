"""The ε-network of the discrete-time DDPMs: a residual MLP on [x, emb(t)(, y)]."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from common.networks import time_embedding


class ResidualMLP(nn.Module):
  """ε̂(x, t[, y]): [x, emb(t)(, y)] → width, pre-LN residual GELU blocks, LayerNorm → out.

  With the defaults and a 64-pixel input this is the digits DDPM of DxMI and reward guidance:
  164 → 512, 5 blocks h + W₂ GELU(W₁ LN(h)), LayerNorm, → 64.

  Attributes:
    out_dim: output dimension (= data dimension).
    width: hidden width.
    num_blocks: residual blocks.
    time_dim: size of the sinusoidal embedding of t.
  """
  out_dim: int
  width: int = 512
  num_blocks: int = 5
  time_dim: int = 100

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array, y: jax.Array | None = None) -> jax.Array:
    """``x``: (N, d); ``t``: () or (N,) float steps; ``y``: None or (N,) conditions."""
    emb = jnp.broadcast_to(time_embedding.step_embedding(t, self.time_dim), x.shape[:-1] + (self.time_dim,))
    inputs = [x, emb] if y is None else [x, emb, y[..., None]]
    h = nn.Dense(self.width)(jnp.concatenate(inputs, axis=-1))
    for _ in range(self.num_blocks):
      h = h + nn.Dense(self.width)(nn.gelu(nn.Dense(self.width)(nn.LayerNorm()(h))))
    return nn.Dense(self.out_dim)(nn.LayerNorm()(h))

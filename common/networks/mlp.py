"""Time-conditioned networks (flax.linen), used through ``init``/``apply`` on explicit params."""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from common.networks import time_embedding

ACTIVATIONS = {"silu": nn.silu, "relu": nn.relu, "gelu": nn.gelu, "tanh": jnp.tanh}


class FourierTimeMLP(nn.Module):
  """f(t, x) = MLP([x, φ(t)]) with Fourier time features φ.

  The first layer is computed as A x + B φ(t) + b, so when ``t`` is one scalar for a whole batch
  (simulating an SDE) the time branch costs one row, not one per sample. The output layer starts
  at zero, so an untrained control is the base process.

  Attributes:
    hidden_sizes: widths of the hidden layers.
    out_dim: output dimension.
    num_frequencies: K in ``common.networks.time_embedding.fourier_features``; 0 for a time-independent network.
    activation: a key of ``ACTIVATIONS``.
  """
  hidden_sizes: Sequence[int]
  out_dim: int
  num_frequencies: int = 8
  activation: str = "silu"

  @nn.compact
  def __call__(self, t: jax.Array | None, x: jax.Array) -> jax.Array:
    """``t``: () or x.shape[:-1] (ignored when ``num_frequencies`` = 0); ``x``: (..., d)."""
    act = ACTIVATIONS[self.activation]
    h = nn.Dense(self.hidden_sizes[0], name="input")(x)
    if self.num_frequencies > 0:
      features = time_embedding.fourier_features(jnp.asarray(t, x.dtype), self.num_frequencies)
      h = h + nn.Dense(self.hidden_sizes[0], use_bias=False, name="time")(features)
    h = act(h)
    for width in self.hidden_sizes[1:]:
      h = act(nn.Dense(width)(h))
    return nn.Dense(self.out_dim, kernel_init=nn.initializers.zeros, name="output")(h)

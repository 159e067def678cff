"""A one-step generator x = g(z): an MLP from latents to samples (He et al. 2025, App. D)."""

import flax.linen as nn
import jax


class MLPGenerator(nn.Module):
  """x = output_scale · MLP(z), SiLU hidden layers (He et al. 2025: 4 × 400 on MoG-40, MW-32).

  Attributes:
    hidden_sizes: widths of the hidden layers (none: an affine map).
    out_dim: the samples' dimension.
    output_scale: multiplies the output, so that unit-scale weights reach a wide target.
  """
  hidden_sizes: tuple[int, ...]
  out_dim: int
  output_scale: float = 1.0

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    """Maps latents z (..., latent_dim) to samples (..., out_dim)."""
    h = z
    for width in self.hidden_sizes:
      h = nn.silu(nn.Dense(width)(h))
    return self.output_scale * nn.Dense(self.out_dim)(h)

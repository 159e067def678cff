"""E(n)-equivariant graph network (Satorras, Hoogeboom & Welling 2021) for flat particle systems.

Layer l, on positions xᵢ and invariant features hᵢ of a fully connected graph:

    mᵢⱼ = φ_e(hᵢ, hⱼ, ‖xᵢ − xⱼ‖²)
    xᵢ ← xᵢ + (1/(n − 1)) Σ_{j≠i} (xᵢ − xⱼ) / (‖xᵢ − xⱼ‖ + 1) · φ_x(mᵢⱼ)     (eq. 4, normalised)
    hᵢ ← hᵢ + φ_h(hᵢ, (1/(n − 1)) Σ_{j≠i} mᵢⱼ)                                 (eqs. 5–6, normalised)

so the output moves with the input under rotations, reflections, translations and permutations.
Both sums are means over the n − 1 neighbours: with plain sums the features grow with n at every
layer, and the paper's LJ-13 networks (13 particles, 192 wide, 8 layers) start far from the
identity map (displacements of rms 4 instead of 0.01) and DiKL's training diverges at once.
DiKL (He et al. 2025) uses it as the generator (latent → configuration) and as the score network
(with the noise level as an extra invariant input) on DW-4 and LJ-13.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from common.targets import particles


class PairwiseDense(nn.Module):
  """φ_e's first layer, a dense layer on [hᵢ, hⱼ, ‖xᵢ − xⱼ‖²] for every ordered pair (i, j).

  Equal to ``nn.Dense(features)`` applied to the (n, n, 2H + 1) concatenation, with the same
  kernel and initialisation, but computed as hᵢW_a + hⱼW_b + dᵢⱼ² w + b: two (n, H) products
  instead of one on n² rows, and no n²-row concatenation. The DW-4 and LJ-13 quick presets
  train 1.2× faster for it on a 2-core CPU (docs/RESULTS.md).

  Attributes:
    features: output width.
  """
  features: int

  @nn.compact
  def __call__(self, h: jax.Array, sq: jax.Array) -> jax.Array:
    """Maps features h (n, H) and squared distances sq (n, n, 1) to (n, n, features)."""
    width = h.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (2 * width + 1, self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
    own, other, distance = kernel[:width], kernel[width:2 * width], kernel[2 * width]
    return (h @ own)[:, None] + (h @ other)[None, :] + sq * distance + bias


class EGNN(nn.Module):
  """Maps a flat configuration (n·k,) to an equivariant, centre-of-mass-free (n·k,) output.

  Attributes:
    n_particles: n.
    hidden: width of φ_e, φ_x, φ_h.
    num_layers: message-passing layers.
    output: "positions" returns the final positions (a generator); "displacement" returns final
      minus initial positions (a vector field, e.g. a score).
    coordinate_init_scale: variance scale of φ_x's last layer at initialisation.
  """
  n_particles: int
  hidden: int = 64
  num_layers: int = 4
  output: str = "positions"
  coordinate_init_scale: float = 1e-3  # small: the network starts near the identity map

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array | None = None) -> jax.Array:
    if self.output not in ("positions", "displacement"):
      raise ValueError(f"output must be 'positions' or 'displacement', got {self.output!r}")
    n = self.n_particles
    pos = particles.as_particles(particles.remove_centre_of_mass(x, n), n)
    start = pos
    features = jnp.ones((n, 1), pos.dtype)
    if t is not None:  # an invariant input, e.g. the noise level
      features = jnp.concatenate([features, jnp.broadcast_to(jnp.reshape(t, (1, 1)), (n, 1))], 1)
    h = nn.Dense(self.hidden)(features)
    off_diagonal = (1.0 - jnp.eye(n, dtype=pos.dtype))[:, :, None]
    for _ in range(self.num_layers):
      diff = pos[:, None, :] - pos[None, :, :]
      sq = jnp.sum(diff**2, axis=-1, keepdims=True)
      message = nn.silu(nn.Dense(self.hidden)(nn.silu(PairwiseDense(self.hidden)(h, sq))))
      message = message * off_diagonal
      weight = nn.Dense(1, kernel_init=nn.initializers.variance_scaling(
          self.coordinate_init_scale, "fan_avg", "uniform"))(
              nn.silu(nn.Dense(self.hidden)(message)))
      # The +1 keeps the update bounded when two particles nearly coincide.
      pos = pos + jnp.sum(diff / (jnp.sqrt(sq + 1e-12) + 1.0) * weight, axis=1) / (n - 1)
      update = nn.Dense(self.hidden)(nn.silu(nn.Dense(self.hidden)(
          jnp.concatenate([h, jnp.sum(message, axis=1) / (n - 1)], axis=-1))))
      h = h + update
    out = pos - start if self.output == "displacement" else pos
    return (out - jnp.mean(out, axis=0, keepdims=True)).reshape(x.shape)

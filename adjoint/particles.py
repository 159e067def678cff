"""Particle systems (DW-4, LJ-13) in Adjoint Sampling and ASBS: what changes from the 2-D code.

A configuration is flat, (n·k,) for n particles in k dimensions, with zero centre of mass, and
the energies are invariant to translations, rotations, reflections and permutations
(``common.targets.benchmarks``). Following the papers' code (facebookresearch/adjoint_samplers;
Havens et al. 2025, Liu et al. 2025, the DW-4 and LJ-13 experiments):

- the base process is a Brownian motion on the zero-centre-of-mass subspace: drift and
  increments are projected (``centring``, passed as ``project`` to
  ``adjoint.adjoint_matching.reciprocal_adjoint_matching``), and so are the bridge draws;
- the networks f_θ(t, x) and h_φ(x) are the shared EGNN (``common.networks.egnn``) with its
  coordinate update as output and time as node feature (``ParticleField``): equivariant to
  rotations, reflections and permutations, and centred;
- ∇E is clipped per particle, not per sample, then centred (``clipped_energy_grad``);
- ASBS starts from the centred "harmonic" prior (``harmonic_prior``) or from X₀ = 0.
"""

import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from adjoint import controlled_sde
from adjoint import schedules
from common.kernels import sde
from common.networks import egnn
from common.targets import particles

PRIORS = ("harmonic", "dirac")
TARGETS = ("dw", "lj")


def centring(n_particles: int) -> controlled_sde.Projection:
  """P: (..., n·k) ↦ the same configurations with zero centre of mass."""
  return lambda x: particles.remove_centre_of_mass(x, n_particles)


class ParticleField(nn.Module):
  """An equivariant vector field on a batch of configurations: ``f(t, x)``, x of shape (N, n·k).

  The shared EGNN applied to each configuration with shared parameters, returning its
  coordinate update (final minus initial positions, centred), as the papers' ``EGNN_dynamics``
  does. ``t`` (a scalar or shape (N,)) is an invariant node feature; ``t = None`` gives a
  time-independent field (ASBS's corrector h_φ(x), which the papers' code evaluates at t = 1).
  The EGNN's coordinate head starts near zero, so the field starts near 0, as ASBS needs of
  h_φ in its first stage.

  ``output_bound`` B bounds each particle's vector softly, v ↦ v B tanh(‖v‖/B)/‖v‖ (then
  centred again), which keeps the equivariance. The papers' EGNN bounds its coordinate updates
  (tanh times 15/L per layer, summed over the n − 1 neighbours: at most 15(n − 1) in all); the
  shared EGNN has no bound, and without one a control fitted to adjoints of norm ~100 grows
  faster than linearly away from its training data: the Euler–Maruyama paths, whose first steps
  have σ(0)² Δt ≈ 0.7 on a 49-step DW-4 grid, feed on it and overflow within a few epochs.

  Attributes:
    n_particles: n.
    hidden: width of the EGNN's MLPs.
    num_layers: message-passing layers.
    output_bound: B, or None for no bound.
  """
  n_particles: int
  hidden: int
  num_layers: int
  output_bound: float | None = None

  @nn.compact
  def __call__(self, t: jax.Array | None, x: jax.Array) -> jax.Array:
    per_configuration = nn.vmap(egnn.EGNN, in_axes=0, out_axes=0,
                                variable_axes={"params": None}, split_rngs={"params": False})
    network = per_configuration(self.n_particles, self.hidden, self.num_layers,
                                output="displacement", name="egnn")
    if t is not None:
      t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
    out = network(x, t)
    if self.output_bound is None:
      return out
    return particles.remove_centre_of_mass(
        soft_bound(out, self.n_particles, self.output_bound), self.n_particles)


def soft_bound(vectors: jax.Array, n_particles: int, bound: float) -> jax.Array:
  """v ↦ v B tanh(‖v‖/B)/‖v‖ for each particle's vector of ``vectors`` (..., n·k): the identity
  for ‖v‖ ≪ B, norm below B always; zero vectors stay zero with finite gradients."""
  p = particles.as_particles(vectors, n_particles)
  sq = jnp.sum(p**2, axis=-1, keepdims=True)
  norm = jnp.sqrt(jnp.where(sq > 0, sq, 1.0))  # the double where keeps ∇ finite at 0
  scale = jnp.where(sq > 0, bound * jnp.tanh(norm / bound) / norm, 1.0)
  return (p * scale).reshape(vectors.shape)


def control_network(*, n_particles: int, hidden: int, num_layers: int,
                    output_bound: float | None) -> ParticleField:
  """f_θ(t, x) = u_θ(t, x)/σ(t) of ``adjoint.controlled_sde`` for a particle system."""
  return ParticleField(n_particles, hidden, num_layers, output_bound)


def corrector_network(*, n_particles: int, hidden: int, num_layers: int,
                      output_bound: float | None) -> ParticleField:
  """ASBS's h_φ(x) ≈ ∇log φ̂₁(x), called with t = None (``adjoint.asbs_training``)."""
  return ParticleField(n_particles, hidden, num_layers, output_bound)


def clip_per_particle(grad: jax.Array, n_particles: int, max_norm: float | None) -> jax.Array:
  """Scales each particle's k-vector of ``grad`` (..., n·k) to norm at most ``max_norm``.

  Written so that it never overflows: LJ gradients of nearly coincident particles exceed
  float32 (d⁻¹³), so entries are first limited to ±1e30 (NaN to 0), and each vector is divided
  by its largest entry before its norm is taken; such a vector comes out at ``max_norm`` along
  its direction rather than as NaN. (Not ±the largest float: XLA divides by multiplying with
  the reciprocal, which for it is subnormal and flushed to zero.)
  """
  grad = jnp.nan_to_num(grad, posinf=1e30, neginf=-1e30)
  if max_norm is None:
    return grad
  vectors = particles.as_particles(grad, n_particles)
  peak = jnp.max(jnp.abs(vectors), axis=-1, keepdims=True)
  unit = vectors / jnp.where(peak > 0, peak, 1.0)  # entries in [−1, 1]
  length = jnp.linalg.norm(unit, axis=-1, keepdims=True)  # ‖v‖ / peak
  scale = jnp.minimum(peak * length, max_norm) / jnp.where(length > 0, length, 1.0)
  return (unit * scale).reshape(grad.shape)


def clipped_energy_grad(energy: Callable[[jax.Array], jax.Array], n_particles: int,
                        max_norm: float | None) -> Callable[[jax.Array], jax.Array]:
  """X₁ (N, n·k) ↦ P clip(∇E(X₁)), clipped per particle then centred.

  As the papers' ``GraphScoreGradTermCost`` (AS) and ``GraphCorrectorGradTermCost`` (ASBS) with
  ``max_grad_E_norm``: clipping particles separately moves the centre of mass, which the
  projection removes again.
  """
  def grad(x1):
    clipped = clip_per_particle(sde.energy_grad(energy, x1), n_particles, max_norm)
    return particles.remove_centre_of_mass(clipped, n_particles)
  return grad


def point_start_adjoint(energy, n_particles: int, schedule: schedules.GeometricSchedule,
                        max_norm: float | None) -> Callable[[jax.Array], jax.Array]:
  """a(X₁) = P clip(∇E(X₁)) − X₁/σ̄², Adjoint Sampling's adjoint from X₀ = 0.

  From X₀ = 0 the projected base process ends at N(0, σ̄² P), whose score on the subspace is
  −X₁/σ̄² (Havens et al. 2025, §3); unlike the 2-D adjoint, only ∇E is clipped (the papers' code).
  """
  grad = clipped_energy_grad(energy, n_particles, max_norm)
  return lambda x1: grad(x1) - x1 / schedule.terminal_variance


def dirac_prior(dim: int) -> Callable[[jax.Array, int], jax.Array]:
  """X₀ = 0, centred."""
  return lambda unused_key, num: jnp.zeros((num, dim), jnp.float32)


def harmonic_prior(n_particles: int, dim: int, scale: float
                   ) -> Callable[[jax.Array, int], jax.Array]:
  """X₀ ~ the papers' ``CenteredParticlesHarmonic`` prior with scale s.

  That prior draws N(0, s² |R⁻¹|) with R = (1.5 I − 0.5 11ᵀ) ⊗ I_k, the harmonic bonds of
  fully connected particles (after Jing et al. 2023), and centres the draw. R is (3/2) I on
  the zero-centre-of-mass subspace, so the centred law is an isotropic Gaussian there:
  N(0, (2/3) s² P), drawn here as a centred N(0, (2/3) s² I).
  """
  std = scale * math.sqrt(2.0 / 3.0)
  return lambda key, num: particles.remove_centre_of_mass(
      std * jax.random.normal(key, (num, dim), jnp.float32), n_particles)


def make_prior(name: str, *, n_particles: int, dim: int, scale: float
               ) -> Callable[[jax.Array, int], jax.Array]:
  """The prior ``name`` ∈ ``PRIORS`` of ASBS on a particle system."""
  if name == "dirac":
    return dirac_prior(dim)
  if name == "harmonic":
    return harmonic_prior(n_particles, dim, scale)
  raise ValueError(f"unknown particle prior {name!r}; expected one of {PRIORS}")

"""Energies and exact samplers of analytic targets, written for one configuration.

Every energy here takes one configuration ``x`` of shape ``(d,)`` and returns a scalar; batch it
with ``jax.vmap`` and take forces with ``jax.grad`` (``common.kernels.sde.energy_grad`` does both).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from common.targets import particles


def hexagon_means(radius: float = 4.0, num: int = 6) -> np.ndarray:
  """Centres ``radius · (cos 2πi/num, sin 2πi/num)``, i = 0..num−1 (Marion et al. 2024, §5.1).

  A NumPy float32 constant, so that a module defining it at import time does not start a JAX
  backend (``jax.distributed.initialize`` must come first on a multi-host launch).
  """
  angles = 2.0 * np.pi * np.arange(num) / num
  return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def isotropic_mixture_energy(
    x: jax.Array, logits: jax.Array, means: jax.Array, std: float | jax.Array = 1.0
) -> jax.Array:
  """Energy of a mixture of isotropic Gaussians with weights ``softmax(logits)``.

      E(x) = −log Σᵢ softmax(θ)ᵢ exp(−‖x − μᵢ‖² / (2 s²))

  This is the potential V(x, θ) of Marion et al. (2024), §5.1 (there s = 1, μᵢ on a hexagon).
  It omits the Gaussian normaliser, which depends on neither x nor θ, so
  ``exp(−E) / (2π s²)^{d/2}`` is the normalised mixture density and
  ``∇_θ E = softmax(θ) − w(x)`` with ``w`` the responsibilities.

  The square is expanded as ‖x‖² − 2μ·x + ‖μ‖²: one small matrix product instead of a
  (components, d) difference, which halves the cost of forces on a batch.

  Args:
    x: one configuration, shape (d,).
    logits: mixture logits θ, shape (K,).
    means: component means, shape (K, d).
    std: the components' standard deviation s, a scalar shared by all of them (with one s per
      component the omitted normalisers would differ, and exp(−E) would not be the mixture).

  Raises:
    ValueError: if ``std`` is not a scalar.
  """
  if jnp.ndim(std) != 0:
    raise ValueError(f"std must be a scalar, got shape {jnp.shape(std)}")
  scaled_sq = (jnp.dot(x, x) - 2.0 * means @ x + jnp.sum(means**2, axis=-1)) / (2.0 * std**2)
  return -jax.nn.logsumexp(jax.nn.log_softmax(logits) - scaled_sq)


def sample_isotropic_mixture(
    key: jax.Array, logits: jax.Array, means: jax.Array, std: float | jax.Array, num: int
) -> jax.Array:
  """Exact draws from ``Σᵢ softmax(θ)ᵢ N(μᵢ, s² I)``, shape (num, d).

  The key is split in two, component indices by ``jax.random.choice`` then Gaussian noise, the
  order of the published Implicit Diffusion code, so its reference draws are reproduced exactly.
  """
  means = jnp.asarray(means)
  key_component, key_noise = jax.random.split(key)
  component = jax.random.choice(
      key_component, means.shape[0], (num,), p=jax.nn.softmax(logits))
  std = jnp.broadcast_to(jnp.asarray(std, means.dtype), (means.shape[0],))
  noise = jax.random.normal(key_noise, (num, means.shape[1]), means.dtype)
  return means[component] + std[component, None] * noise


def quadratic_energy(x: jax.Array, scale: float | jax.Array = 1.0) -> jax.Array:
  """Quadratic well ``E(x) = ½‖x‖² / s²``: the target is N(0, s² I)."""
  return 0.5 * jnp.dot(x, x) / scale**2


def gaussian_log_normaliser(dim: int, std: float) -> float:
  """``log (2π s²)^{d/2}``: add to an unnormalised isotropic Gaussian energy to get −log density."""
  return 0.5 * dim * math.log(2.0 * math.pi * std**2)


def asymmetric_well_energy(x: jax.Array | np.ndarray) -> jax.Array | np.ndarray:
  """x⁴ − 6x² − 0.5x elementwise: the 1-D double well of each pair of the many-well energy.

  Plain arithmetic, so that it serves jax arrays and float64 numpy grids (quadratures) alike.
  """
  return x**4 - 6.0 * x**2 - 0.5 * x


def many_well_energy(x: jax.Array) -> jax.Array:
  """Many-well energy of even dimension d (MW-32 for d = 32; Midgley et al. 2023, FAB):

      E(x) = Σ_{i < d/2} [x_{2i}⁴ − 6 x_{2i}² − 0.5 x_{2i} + 0.5 x_{2i+1}²].

  Each pair is an independent asymmetric double well times a standard normal, so the
  normaliser factorises (see ``common.targets.benchmarks``).
  """
  even, odd = x[0::2], x[1::2]
  return jnp.sum(asymmetric_well_energy(even) + 0.5 * odd**2)


def double_well_energy(
    x: jax.Array, n_particles: int = 4, a: float = 0.9, b: float = -4.0, d0: float = 4.0
) -> jax.Array:
  """Pairwise double-well energy (DW-4 for 4 particles in 2-D; Köhler et al. 2020):

      E(x) = Σ_{i<j} a (dᵢⱼ − d₀)⁴ + b (dᵢⱼ − d₀)²,

  over the unordered pairs. Invariant to translations, rotations, reflections, permutations.
  """
  shift = particles.pair_distances(x, n_particles) - d0
  return jnp.sum(a * shift**4 + b * shift**2)


def _lennard_jones_pair(d: jax.Array, soft_core: bool) -> jax.Array:
  """dᵢⱼ⁻¹² − 2 dᵢⱼ⁻⁶ (times d below 2^{−1/6} with ``soft_core``); +inf at d = 0 without it."""
  safe = jnp.where(d > 0, d, 1.0)
  pair = jnp.where(d > 0, safe**-12 - 2.0 * safe**-6, jnp.inf)
  if soft_core:
    pair = jnp.where(d < 2.0 ** (-1.0 / 6.0), d * jnp.where(d > 0, pair, 0.0), pair)
  return pair


def cubic_extrapolation(fn, d: jax.Array, below: float) -> jax.Array:
  """``fn(d)`` for d ≥ ``below``; below it the cubic Taylor polynomial of ``fn`` at ``below``.

  Value and first three derivatives match at d = ``below`` (so the energy and its force are
  continuous there), and the polynomial is finite at d = 0 where ``fn`` may blow up.
  """
  c = jnp.asarray(below, d.dtype)
  d1 = jax.grad(fn)
  d2 = jax.grad(d1)
  d3 = jax.grad(d2)
  h = d - c
  cubic = fn(c) + h * (d1(c) + h * (d2(c) / 2.0 + h * d3(c) / 6.0))
  # fn is evaluated on clamped distances so that its gradient below ``below`` is finite too.
  return jnp.where(d < c, cubic, fn(jnp.where(d < c, c, d)))


def lennard_jones_energy(
    x: jax.Array, n_particles: int = 13, harmonic: float = 1.0, soft_core: bool = False,
    cubic_below: float | None = None,
) -> jax.Array:
  """Lennard-Jones cluster with a harmonic tether (LJ-13 for 13 particles in 3-D):

      E(x) = Σ_{i≠j} [dᵢⱼ⁻¹² − 2 dᵢⱼ⁻⁶] + (c/2) Σᵢ ‖xᵢ − x̄‖²,

  the double sum over ordered pairs (each pair counted twice), as in Köhler et al. 2020 and the
  published LJ-13 samples. ``soft_core`` is DiKL's training variant (He et al. 2025): for
  d < 2^{−1/6} the pair term is multiplied by d, d⁻¹¹ − 2d⁻⁵, which softens the wall but still
  diverges as d → 0 (only d = 0 itself gives 0). ``cubic_below`` (DiKL's posterior MALA uses
  0.75) replaces the pair term below that distance by its cubic Taylor extrapolation from there
  (``cubic_extrapolation``): that is what keeps the energy and forces of overlapping particles
  finite.
  """
  d = particles.pair_distances(x, n_particles)
  pair_fn = lambda r: _lennard_jones_pair(r, soft_core)
  pair = pair_fn(d) if cubic_below is None else cubic_extrapolation(pair_fn, d, cubic_below)
  centred = particles.remove_centre_of_mass(x, n_particles)
  return 2.0 * jnp.sum(pair) + 0.5 * harmonic * jnp.dot(centred, centred)

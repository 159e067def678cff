"""Benchmark Boltzmann targets shared by the samplers: MoG-40, MW-32, DW-4 and LJ-13.

Each ``Target`` bundles an energy for one flat configuration, an exact sampler where one exists,
and its log-normaliser where it is known. Particle systems (DW-4, LJ-13) are flat
``(n_particles * spatial_dim,)`` and their energies are invariant to translations, rotations,
reflections and permutations; their ground truth comes from MCMC (``common.reference``).
"""

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.targets import energies
from common.targets import gaussian_mixture
from common.targets import whitening as whitening_lib


class Target(NamedTuple):
  """A Boltzmann target exp(−E), the one type of every sampler's target.

  A sampler works in its own coordinates; ``whitening`` (when set) maps them to the target's
  original ones, in which ``sample``, ``original_energy`` and ``mixture`` are written and every
  figure is reported. Without it both coordinates are the same.
  """
  name: str
  dim: int
  energy: Callable[[jax.Array], jax.Array]  # one configuration (dim,) -> scalar, sampler coords
  sample: Callable[[jax.Array, int], jax.Array] | None  # exact draws: (key, n) -> (n, dim)
  log_normaliser: float | None  # log ∫ exp(−E), when known
  n_particles: int = 1
  spatial_dim: int = 1
  whitening: whitening_lib.AffineWhitening | None = None  # sampler ↔ original coordinates
  original_energy: Callable[[jax.Array], jax.Array] | None = None  # None: ``energy``
  mixture: gaussian_mixture.GaussianMixture | None = None  # the components, for mode counts


# The 40 means of the MoG-40 benchmark (FAB, iDEM, DiKL): (u − 0.5)·2·40 with u the first 80
# uniforms of PyTorch's CPU generator after manual_seed(0), stored here so no RNG is involved.
MOG40_MEANS = np.array([
    (-0.2994728088378906, 21.457744598388672),
    (-32.92180633544922, -29.43756103515625),
    (-15.406174659729004, 10.72629451751709),
    (-0.7925271987915039, 31.715579986572266),
    (-3.5497617721557617, 10.584502220153809),
    (-12.088522911071777, -7.862615585327148),
    (-38.21393966674805, -26.491283416748047),
    (-16.488924026489258, 1.4817428588867188),
    (15.813407897949219, 24.000911712646484),
    (-27.117643356323242, -17.418514251708984),
    (14.528684616088867, 33.215518951416016),
    (-8.232007026672363, 29.932470321655273),
    (-6.447334289550781, 4.2325639724731445),
    (36.21904754638672, -37.106815338134766),
    (-25.1815185546875, -10.126609802246094),
    (-15.591998100280762, 34.56003189086914),
    (-25.92718505859375, -18.413314819335938),
    (-27.94561767578125, -37.462440490722656),
    (-23.349618911743164, 34.3839225769043),
    (17.848735809326172, 19.38690185546875),
    (2.1036624908447266, -20.507339477539062),
    (6.767387390136719, -37.3477897644043),
    (-28.90264892578125, -20.621200561523438),
    (25.237518310546875, 23.452850341796875),
    (-17.73980140686035, -1.4432954788208008),
    (25.582427978515625, 39.765323638916016),
    (15.875287055969238, 5.403714179992676),
    (26.819454193115234, -23.552093505859375),
    (7.453761100769043, -31.01222038269043),
    (-27.723445892333984, -20.663341522216797),
    (18.098922729492188, 16.086416244506836),
    (-23.69409942626953, 12.084283828735352),
    (21.958881378173828, -5.048694610595703),
    (1.527261734008789, 9.2681884765625),
    (24.8150634765625, 38.40776443481445),
    (-30.82494354248047, -14.65878963470459),
    (15.720396041870117, 33.14197540283203),
    (34.808292388916016, 35.29426956176758),
    (7.9605817794799805, -34.78330612182617),
    (3.6796998977661133, -25.024213790893555)
], dtype=np.float32)
MOG40_STD = math.log1p(math.e)  # softplus(1) = 1.3132617


def mog40_noisy_score(x_t: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
  """∇ log p_t(x_t) of MoG-40 under the VP kernel x_t = α x + σ ε, one configuration (2,).

  The convolved law is again an equal-weight mixture, of N(α μₖ, (α² s² + σ²) I): the exact
  noisy score that DiKL's posterior estimate ŝ_d approximates (He et al. 2025, eq. 11).
  """
  means = jnp.asarray(MOG40_MEANS)
  std = jnp.sqrt(alpha**2 * MOG40_STD**2 + sigma**2)
  return -jax.grad(energies.isotropic_mixture_energy)(x_t, jnp.zeros(means.shape[0]),
                                                      alpha * means, std)


def mw32_noisy_score(x_t: jax.Array, alpha: jax.Array, sigma: jax.Array,
                     num_points: int = 8001) -> jax.Array:
  """∇ log p_t(x_t) of MW-32 under the VP kernel x_t = α x + σ ε, one configuration (32,).

  MW-32 factorises. Its odd coordinates are N(0, 1), which the VP kernel keeps (score −x_t). Each
  even coordinate is the double well ∝ exp(−(x⁴ − 6x² − 0.5x)), whose noisy score is
  (α E[x | x_t] − x_t)/σ² (Tweedie), with the posterior mean by quadrature on ``num_points``
  points of [−5, 5]: a spacing of 1.25e-3, against a posterior width σ/α ≥ 0.01 at DiKL's lowest
  MW-32 level. The exact score that DiKL's estimate ŝ_d approximates (He et al. 2025, eq. 11).
  """
  grid = jnp.linspace(-5.0, 5.0, num_points)
  wells = x_t[0::2]
  log_weights = -energies.asymmetric_well_energy(grid) - (
      wells[:, None] - alpha * grid) ** 2 / (2.0 * sigma**2)
  posterior_mean = jax.nn.softmax(log_weights, axis=-1) @ grid
  return (-x_t).at[0::2].set((alpha * posterior_mean - wells) / sigma**2)


EXACT_NOISY_SCORES = {"mog": mog40_noisy_score, "mw": mw32_noisy_score}


def _mog40() -> Target:
  means = jnp.asarray(MOG40_MEANS)
  logits = jnp.zeros(means.shape[0])
  normaliser = energies.gaussian_log_normaliser(2, MOG40_STD)

  def energy(x):  # the normalised mixture: E = −log p
    return energies.isotropic_mixture_energy(x, logits, means, MOG40_STD) + normaliser

  def sample(key, num):
    return energies.sample_isotropic_mixture(key, logits, means, MOG40_STD, num)

  return Target("mog", 2, energy, sample, 0.0)


@functools.lru_cache(maxsize=None)
def _double_well_inverse_cdf(num_points: int = 200_001) -> tuple[np.ndarray, np.ndarray, float]:
  """Grid, CDF and normaliser of the 1-D well exp(−(x⁴ − 6x² − 0.5x)) (float64, trapezoid)."""
  grid = np.linspace(-5.0, 5.0, num_points)
  density = np.exp(-energies.asymmetric_well_energy(grid))
  steps = 0.5 * (density[1:] + density[:-1]) * np.diff(grid)
  cdf = np.concatenate([[0.0], np.cumsum(steps)])
  return grid, cdf / cdf[-1], float(cdf[-1])


def _many_well() -> Target:
  dim = 32
  grid, cdf, z_well = _double_well_inverse_cdf()
  grid, cdf = jnp.asarray(grid, jnp.float32), jnp.asarray(cdf, jnp.float32)

  def sample(key, num):
    key_well, key_normal = jax.random.split(key)
    wells = jnp.interp(jax.random.uniform(key_well, (num, dim // 2)), cdf, grid)
    normals = jax.random.normal(key_normal, (num, dim // 2))
    return jnp.stack([wells, normals], axis=-1).reshape(num, dim)

  log_z = dim // 2 * (math.log(z_well) + 0.5 * math.log(2 * math.pi))
  return Target("mw", dim, energies.many_well_energy, sample, log_z)


def _dw4() -> Target:
  energy = functools.partial(energies.double_well_energy, n_particles=4)
  return Target("dw", 8, energy, None, None, n_particles=4, spatial_dim=2)


def _lj13() -> Target:
  energy = functools.partial(energies.lennard_jones_energy, n_particles=13)
  return Target("lj", 39, energy, None, None, n_particles=13, spatial_dim=3)


_FACTORIES = {"mog": _mog40, "mw": _many_well, "dw": _dw4, "lj": _lj13}
NAMES = tuple(_FACTORIES)


def get_target(name: str) -> Target:
  """The target called ``name``, one of ``NAMES`` = ("mog", "mw", "dw", "lj")."""
  if name not in _FACTORIES:
    raise ValueError(f"unknown target {name!r}; choose one of {', '.join(NAMES)}")
  return _FACTORIES[name]()

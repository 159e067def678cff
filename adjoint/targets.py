"""The 2-D targets of the Adjoint Sampling examples, in the sampler's (whitened) coordinates.

``well``: E(x) = ½‖x‖²/s², the law N(0, s² I), sampled as is.
``gmm``: E(x) = −log Σ wₖ N(x; μₖ, Σₖ), sampled in the whitening y = W(x − m) of its overall mean
and covariance (``common.energy_transforms``) and mapped back for every reported number.
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from common import energies
from common import energy_transforms
from common import gaussian_mixture

ENERGIES = ("well", "gmm")


class Target(NamedTuple):
  energy: Callable[[jax.Array], jax.Array]  # one configuration, sampler coordinates
  whitening: energy_transforms.AffineWhitening  # sampler ↔ original coordinates
  original_energy: Callable[[jax.Array], jax.Array]  # one configuration, original coordinates
  mixture: gaussian_mixture.GaussianMixture | None  # for mode counts; None for the well
  dim: int


def make_target(name: str, config: ml_collections.ConfigDict) -> Target:
  """The target ``name`` ∈ ``ENERGIES`` with the parameters in ``config``."""
  if name == "well":
    energy = lambda x: energies.quadratic_energy(x, config.well_scale)
    return Target(energy, energy_transforms.identity_whitening(2), energy, None, 2)
  if name == "gmm":
    mixture = gaussian_mixture.gaussian_mixture(
        config.gmm_weights, config.gmm_means, config.gmm_covariance_diagonals)
    energy = lambda x: gaussian_mixture.gaussian_mixture_energy(x, mixture)
    affine = energy_transforms.whitening(*gaussian_mixture.mixture_moments(mixture))
    return Target(
        energy_transforms.whitened_energy(energy, affine), affine, energy, mixture,
        mixture.means.shape[1])
  raise ValueError(f"unknown energy {name!r}; expected one of {ENERGIES}")


def sample_metrics(target: Target, samples: np.ndarray) -> dict[str, float]:
  """Mean and std of each coordinate, and for a mixture the fraction of samples per mode."""
  samples = np.asarray(samples, np.float64)
  metrics = {}
  for i, axis in enumerate("xyz"[:samples.shape[1]]):
    metrics[f"{axis}_mean"] = float(np.mean(samples[:, i]))
    metrics[f"{axis}_std"] = float(np.std(samples[:, i]))
  if target.mixture is not None:
    modes = np.asarray(gaussian_mixture.nearest_component(jnp.asarray(samples, jnp.float32),
                                                          target.mixture))
    for k in range(target.mixture.means.shape[0]):
      metrics[f"mode_{k}_fraction"] = float(np.mean(modes == k))
  return metrics

"""The 2-D targets of the Adjoint Sampling examples, as ``common.targets.benchmarks.Target``s.

``well``: E(x) = ½‖x‖²/s², the law N(0, s² I), sampled as is.
``gmm``: E(x) = −log Σ wₖ N(x; μₖ, Σₖ), sampled in the whitening y = W(x − m) of its overall mean
and covariance (``common.targets.whitening``) and mapped back for every reported number.
"""

import jax
import jax.numpy as jnp
import numpy as np

from common.targets import benchmarks
from common.targets import energies
from common.targets import gaussian_mixture
from common.targets import whitening

ENERGIES = ("well", "gmm")


def quadratic_well(scale: float) -> benchmarks.Target:
  """E(x) = ½‖x‖²/s² in 2-D: the law N(0, s² I)."""
  energy = lambda x: energies.quadratic_energy(x, scale)
  sample = lambda key, num: scale * jax.random.normal(key, (num, 2))
  return benchmarks.Target("well", 2, energy, sample, energies.gaussian_log_normaliser(2, scale),
                           whitening=whitening.identity_whitening(2), original_energy=energy)


def whitened_mixture(weights, means, covariance_diagonals) -> benchmarks.Target:
  """The mixture Σ wₖ N(μₖ, diag(σₖ²)), sampled in the whitening of its mean and covariance."""
  mixture = gaussian_mixture.gaussian_mixture(weights, means, covariance_diagonals)
  energy = lambda x: gaussian_mixture.gaussian_mixture_energy(x, mixture)
  affine = whitening.whitening(*gaussian_mixture.mixture_moments(mixture))
  # exp(−E) is normalised in x, so ∫ exp(−E(W⁻¹y + m)) dy = |det W|.
  log_normaliser = float(np.linalg.slogdet(np.asarray(affine.matrix, np.float64))[1])
  return benchmarks.Target(
      "gmm", mixture.means.shape[1], whitening.whitened_energy(energy, affine),
      lambda key, num: gaussian_mixture.sample_gaussian_mixture(key, mixture, num),
      log_normaliser,
      whitening=affine, original_energy=energy, mixture=mixture)


def make_target(name: str, *, well_scale: float, gmm_weights, gmm_means,
                gmm_covariance_diagonals) -> benchmarks.Target:
  """The target ``name`` ∈ ``ENERGIES`` with these parameters."""
  if name == "well":
    return quadratic_well(well_scale)
  if name == "gmm":
    return whitened_mixture(gmm_weights, gmm_means, gmm_covariance_diagonals)
  raise ValueError(f"unknown energy {name!r}; expected one of {ENERGIES}")


def sample_metrics(target: benchmarks.Target, samples: np.ndarray) -> dict[str, float]:
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

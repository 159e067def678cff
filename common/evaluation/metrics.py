"""Sample-based metrics and the evaluation protocol for Boltzmann samplers.

The protocol is the one DiKL, iDEM and Adjoint Sampling report (He et al. 2025, App. C): repeat
10 times, draw 2000 model and 2000 reference samples without replacement, remove the centre of
mass of particle systems, and average: W2 by exact optimal transport on flattened configurations,
total variation between energy histograms, and (particle systems) between histograms of all
pairwise distances.
"""

from typing import Mapping

import jax
import numpy as np
from scipy import optimize
from scipy import spatial

from common.targets import benchmarks as targets_lib
from common.targets import particles


def wasserstein2(x: np.ndarray, y: np.ndarray) -> float:
  """Exact W2 between two empirical measures of equal size (N, d).

  With uniform weights and equal sizes an optimal plan is a permutation, so W2² is the mean
  squared distance of the optimal assignment (SciPy's ``linear_sum_assignment``, exact).
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.shape != y.shape or x.ndim != 2:
    raise ValueError(f"need two (N, d) arrays of one shape, got {x.shape} and {y.shape}")
  cost = spatial.distance.cdist(x, y, "sqeuclidean")
  rows, cols = optimize.linear_sum_assignment(cost)
  return float(np.sqrt(cost[rows, cols].mean()))


def sliced_wasserstein2(x: np.ndarray, y: np.ndarray, num_projections: int = 1000,
                        seed: int = 0) -> float:
  """Sliced W2: √(mean over random unit directions θ of W2²(θᵀx, θᵀy)), equal sizes (N, d).

  In one dimension the optimal plan matches sorted values, so each projection costs a sort
  (Bonneel et al. 2015). Directions are uniform on the sphere, drawn from ``seed``.
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.shape != y.shape or x.ndim != 2:
    raise ValueError(f"need two (N, d) arrays of one shape, got {x.shape} and {y.shape}")
  directions = np.random.default_rng(seed).standard_normal((x.shape[1], num_projections))
  directions /= np.linalg.norm(directions, axis=0)
  gaps = np.sort(x @ directions, axis=0) - np.sort(y @ directions, axis=0)
  return float(np.sqrt(np.mean(gaps**2)))


def histogram_tvd(reference: np.ndarray, model: np.ndarray, bins: int = 200) -> float:
  """½ Σ |p − q| between histograms on ``bins`` equal bins spanning the reference's range.

  Model values outside that range are dropped; each histogram is normalised by its own in-range
  count (a model with no value in range scores 1).
  """
  reference, model = np.ravel(reference), np.ravel(model)
  edges = np.linspace(reference.min(), reference.max(), bins + 1)
  p, _ = np.histogram(reference, edges)
  q, _ = np.histogram(model, edges)
  if q.sum() == 0:
    return 1.0
  return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def evaluate(
    model: np.ndarray,
    reference: np.ndarray,
    target: targets_lib.Target,
    *,
    repeats: int = 10,
    size: int = 2000,
    seed: int = 0,
) -> Mapping[str, float]:
  """The protocol above; returns ``{w2,energy_tvd,dist_tvd}_{mean,std}`` (dist only for particles).

  Raises:
    ValueError: when either set has fewer than ``size`` samples or the wrong dimension.
  """
  for name, samples in (("model", model), ("reference", reference)):
    if samples.ndim != 2 or samples.shape[1] != target.dim:
      raise ValueError(f"{name} samples have shape {samples.shape}; target {target.name} needs "
                       f"(N, {target.dim})")
    if samples.shape[0] < size:
      raise ValueError(f"{name} has {samples.shape[0]} samples; the protocol draws {size}")
  rng = np.random.default_rng(seed)
  batch_energy = jax.jit(jax.vmap(target.energy))
  is_particles = target.n_particles > 1
  scores = {"w2": [], "energy_tvd": [], "dist_tvd": []}
  for _ in range(repeats):
    x = model[rng.choice(model.shape[0], size, replace=False)]
    y = reference[rng.choice(reference.shape[0], size, replace=False)]
    if is_particles:
      x = np.asarray(particles.remove_centre_of_mass(x, target.n_particles))
      y = np.asarray(particles.remove_centre_of_mass(y, target.n_particles))
    scores["w2"].append(wasserstein2(x, y))
    scores["energy_tvd"].append(histogram_tvd(np.asarray(batch_energy(y)),
                                              np.asarray(batch_energy(x))))
    if is_particles:
      scores["dist_tvd"].append(histogram_tvd(
          np.asarray(particles.pair_distances(y, target.n_particles)),
          np.asarray(particles.pair_distances(x, target.n_particles))))
  return {f"{name}_{stat}": float(fn(values)) for name, values in scores.items() if values
          for stat, fn in (("mean", np.mean), ("std", np.std))}


def mog40_mode_fractions(samples: np.ndarray) -> np.ndarray:
  """The fraction of ``samples`` (N, 2) nearest each of MoG-40's 40 means, (40,)."""
  samples = np.asarray(samples)
  distances = ((samples[:, None, :] - targets_lib.MOG40_MEANS[None]) ** 2).sum(-1)
  return np.bincount(distances.argmin(1), minlength=len(targets_lib.MOG40_MEANS)) / len(samples)


def target_metrics(target: targets_lib.Target, samples: np.ndarray,
                   reference: np.ndarray | None) -> dict:
  """Mean energy, per-target statistics (MoG-40: the fraction of samples nearest each mean;
  MW-32: P(x_even > 0)) and, with at least 2000 samples and 2000 reference samples, the protocol
  of ``evaluate``."""
  energy = np.asarray(jax.jit(jax.vmap(target.energy))(samples))
  out = {"energy_mean": float(np.mean(energy)), "num_samples": int(samples.shape[0])}
  if target.name == "mog":
    fractions = mog40_mode_fractions(samples)
    out.update(modes_covered=int((fractions >= 0.01).sum()),
               modes_with_any_sample=int((fractions > 0).sum()),
               min_mode_fraction=float(fractions.min()), max_mode_fraction=float(fractions.max()))
  if target.name == "mw":
    out["p_even_positive"] = float(np.mean(samples[:, 0::2] > 0))
  if reference is not None and min(samples.shape[0], reference.shape[0]) >= 2000:
    out.update(evaluate(samples, reference, target))
  return out

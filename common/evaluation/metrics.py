"""Distances between sets of samples: exact and sliced W2, 1-D W2, histogram TVD, MoG-40 modes.

The protocol that applies them to repeated subsamples is ``common.evaluation.protocol``; the
aligned W2 of particle systems is ``common.evaluation.alignment``.
"""

import numpy as np
import ot
from scipy import optimize
from scipy import spatial

from common.targets import benchmarks as targets_lib


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


def wasserstein2_1d(x: np.ndarray, y: np.ndarray) -> float:
  """Exact W2 between two 1-D empirical measures (any sizes), with the square root.

  POT's ``emd2_1d`` (squared Euclidean ground cost, the call of DEM's and adjoint_samplers'
  evaluators) returns W2²; Adjoint Sampling and ASBS report its square root as the energy W2,
  iDEM's code reports W2² itself (see ``protocol``).
  """
  x, y = np.ravel(np.asarray(x, np.float64)), np.ravel(np.asarray(y, np.float64))
  return float(np.sqrt(ot.emd2_1d(x, y)))


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


def mog40_mode_fractions(samples: np.ndarray) -> np.ndarray:
  """The fraction of ``samples`` (N, 2) nearest each of MoG-40's 40 means, (40,)."""
  samples = np.asarray(samples)
  distances = ((samples[:, None, :] - targets_lib.MOG40_MEANS[None]) ** 2).sum(-1)
  return np.bincount(distances.argmin(1), minlength=len(targets_lib.MOG40_MEANS)) / len(samples)

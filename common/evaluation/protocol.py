"""The evaluation protocol for Boltzmann samplers: the field's metrics on the same subsamples.

Repeat ``repeats`` times (10): draw ``size`` (2000) model and ``size`` reference samples without
replacement, remove the centre of mass of particle systems, and score the pair of sets; report
the mean and standard deviation over repeats (He et al. 2025, App. C, DiKL's protocol). The
metrics, by the name of their column:

- ``w2``: exact W2 of the flattened configurations (DiKL, iDEM).
- ``aligned_w2``: W2 over particle-matched, rigidly aligned pair costs (Adjoint Sampling, ASBS;
  ``common.evaluation.alignment``), on the first ``aligned_size`` samples of each set.
- ``energy_w2``: exact 1-D W2 of the energies, with the square root (AS, ASBS);
  ``energy_w2_squared``: its square, the value iDEM's code reports under the same name.
- ``energy_tvd``, ``dist_tvd``: TVD of 200-bin histograms of energies and of all pairwise
  distances (DiKL); ``dist_w2``: 1-D W2 of the pairwise distances, with the square root.
- ``modes_covered`` (MoG-40): modes holding at least 1% of the samples;
  ``p_even_positive`` (MW-32): the share of double-well coordinates in the right well.

Metrics that do not apply to a target (distances for MoG-40) are left out of its rows.
"""

import functools
from typing import Callable, Mapping, Sequence

import jax
import numpy as np

from common.evaluation import alignment
from common.evaluation import metrics
from common.targets import benchmarks as targets_lib
from common.targets import particles

DIKL_METRICS = ("w2", "energy_tvd", "dist_tvd")
ALL_METRICS = ("w2", "aligned_w2", "energy_w2", "energy_w2_squared", "energy_tvd", "dist_tvd",
               "dist_w2", "modes_covered", "p_even_positive")
_PARTICLE_METRICS = ("aligned_w2", "dist_tvd", "dist_w2")
_ENERGY_METRICS = ("energy_w2", "energy_w2_squared", "energy_tvd")


@functools.lru_cache(maxsize=8)
def _batch_energy(energy: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
  return jax.jit(jax.vmap(energy))  # one compilation per target, not per repeat


def applicable(names: Sequence[str], target: targets_lib.Target) -> tuple[str, ...]:
  """The metrics of ``names`` that apply to ``target``, in the order of ``ALL_METRICS``."""
  unknown = set(names) - set(ALL_METRICS)
  if unknown:
    raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {', '.join(ALL_METRICS)}")
  skip = set()
  if target.n_particles == 1:
    skip.update(_PARTICLE_METRICS)
  if target.name != "mog":
    skip.add("modes_covered")
  if target.name != "mw":
    skip.add("p_even_positive")
  return tuple(name for name in ALL_METRICS if name in names and name not in skip)


def score(x: np.ndarray, y: np.ndarray, target: targets_lib.Target, names: Sequence[str],
          aligned_size: int | None = None) -> dict[str, float]:
  """Every metric of ``names`` (all applicable to ``target``) between centred sets x and y."""
  names, out = set(names), {}
  if "w2" in names:
    out["w2"] = metrics.wasserstein2(x, y)
  if "aligned_w2" in names:
    out["aligned_w2"] = alignment.aligned_wasserstein2(x[:aligned_size], y[:aligned_size],
                                                       target.n_particles)
  if names & set(_ENERGY_METRICS):
    batch_energy = _batch_energy(target.energy)
    energy_x, energy_y = np.asarray(batch_energy(x)), np.asarray(batch_energy(y))
    out["energy_w2"] = metrics.wasserstein2_1d(energy_x, energy_y)
    out["energy_w2_squared"] = out["energy_w2"] ** 2
    out["energy_tvd"] = metrics.histogram_tvd(energy_y, energy_x)
  if names & {"dist_tvd", "dist_w2"}:
    dist_x = np.asarray(particles.pair_distances(x, target.n_particles))
    dist_y = np.asarray(particles.pair_distances(y, target.n_particles))
    out["dist_tvd"] = metrics.histogram_tvd(dist_y, dist_x)
    out["dist_w2"] = metrics.wasserstein2_1d(dist_x, dist_y)
  if "modes_covered" in names:
    out["modes_covered"] = float((metrics.mog40_mode_fractions(x) >= 0.01).sum())
  if "p_even_positive" in names:
    out["p_even_positive"] = float(np.mean(x[:, 0::2] > 0))
  return {name: out[name] for name in ALL_METRICS if name in names}


def evaluate(
    model: np.ndarray,
    reference: np.ndarray,
    target: targets_lib.Target,
    *,
    names: Sequence[str] = DIKL_METRICS,
    repeats: int = 10,
    size: int = 2000,
    aligned_size: int | None = None,
    seed: int = 0,
) -> Mapping[str, float]:
  """The protocol above; returns ``{<metric>_mean, <metric>_std}`` for the applicable ``names``.

  The subsamples depend on ``seed`` only, not on ``names``: a metric scores the same whatever
  else is asked for.

  Raises:
    ValueError: when either set has fewer than ``size`` samples or the wrong dimension, or a name
      is unknown.
  """
  for name, samples in (("model", model), ("reference", reference)):
    if samples.ndim != 2 or samples.shape[1] != target.dim:
      raise ValueError(f"{name} samples have shape {samples.shape}; target {target.name} needs "
                       f"(N, {target.dim})")
    if samples.shape[0] < size:
      raise ValueError(f"{name} has {samples.shape[0]} samples; the protocol draws {size}")
  names = applicable(names, target)
  rng = np.random.default_rng(seed)
  per_repeat = []
  for _ in range(repeats):
    x = model[rng.choice(model.shape[0], size, replace=False)]
    y = reference[rng.choice(reference.shape[0], size, replace=False)]
    if target.n_particles > 1:
      x = np.asarray(particles.remove_centre_of_mass(x, target.n_particles))
      y = np.asarray(particles.remove_centre_of_mass(y, target.n_particles))
    per_repeat.append(score(x, y, target, names, aligned_size))
  return {f"{name}_{stat}": float(fn([scores[name] for scores in per_repeat]))
          for name in names for stat, fn in (("mean", np.mean), ("std", np.std))}


def floor(reference: np.ndarray, target: targets_lib.Target, *, seed: int = 0,
          **protocol) -> Mapping[str, float]:
  """The protocol between two disjoint random halves of ``reference``: what exact samples score.

  Args:
    reference: (M, dim) with M ≥ 2 × ``size``.
    target: the target.
    seed: seed of the split; the protocol's subsamples use it too.
    **protocol: ``names``, ``repeats``, ``size``, ``aligned_size`` of ``evaluate``.
  """
  order = np.random.default_rng(seed).permutation(reference.shape[0])
  half = reference.shape[0] // 2
  return evaluate(reference[order[:half]], reference[order[half:2 * half]], target, seed=seed,
                  **protocol)


def target_metrics(target: targets_lib.Target, samples: np.ndarray,
                   reference: np.ndarray | None) -> dict:
  """Mean energy, per-target statistics (MoG-40: the fraction of samples nearest each mean;
  MW-32: P(x_even > 0)) and, with at least 2000 samples and 2000 reference samples, DiKL's
  three metrics of ``evaluate``."""
  energy = np.asarray(_batch_energy(target.energy)(samples))
  out = {"energy_mean": float(np.mean(energy)), "num_samples": int(samples.shape[0])}
  if target.name == "mog":
    fractions = metrics.mog40_mode_fractions(samples)
    out.update(modes_covered=int((fractions >= 0.01).sum()),
               modes_with_any_sample=int((fractions > 0).sum()),
               min_mode_fraction=float(fractions.min()), max_mode_fraction=float(fractions.max()))
  if target.name == "mw":
    out["p_even_positive"] = float(np.mean(samples[:, 0::2] > 0))
  if reference is not None and min(samples.shape[0], reference.shape[0]) >= 2000:
    out.update(evaluate(samples, reference, target))
  return out

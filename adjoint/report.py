"""Outputs shared by the entry points: histories, samples, metrics and a figure (the density of a
2-D target, or the energy and pair-distance histograms of a particle system)."""

import os
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from common.evaluation import quadrature
from common.infra import io
from common.infra import plotting
from common.targets import benchmarks
from common.targets import particles


def target_density_on_grid(target: benchmarks.Target, half_width: float, spacing: float):
  """exp(−E) of the target in original coordinates on a midpoint grid, normalised on the grid."""
  grid = quadrature.midpoint_grid(half_width, spacing)
  energies = jax.jit(jax.vmap(target.original_energy))(jnp.asarray(grid.points, jnp.float32))
  density = np.exp(-(np.asarray(energies, np.float64) - np.min(energies)))
  density /= density.sum() * grid.cell_area
  n = grid.axis.shape[0]
  return density.reshape(n, n), grid.axis


def _save_arrays(folder: str, samples: np.ndarray, histories: Mapping[str, np.ndarray],
                 metrics: Mapping[str, float]) -> None:
  io.save_histories(folder, histories)
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  io.save_json(os.path.join(folder, "metrics.json"), dict(metrics))


def _loss_panel(ax, histories: Mapping[str, np.ndarray]) -> None:
  # A per-stage history (stages × epochs) is drawn as one curve over its epochs in sequence.
  losses = {key: np.ravel(value) for key, value in histories.items() if key.endswith("loss")}
  plotting.plot_curves(ax, losses, xlabel="epoch", ylabel="loss", title="training loss",
                       logy=bool(losses) and all(np.all(v > 0) for v in losses.values()))


def write_2d_outputs(
    folder: str,
    name: str,
    target: benchmarks.Target,
    samples: np.ndarray,
    histories: Mapping[str, np.ndarray],
    metrics: Mapping[str, float],
) -> str:
  """Writes hist_*.npy, samples.npy, metrics.json and ``<name>.png``; returns the PNG path.

  The figure shows the exact density with its contours and the samples over it, and the loss
  curves against their own epoch counts.
  """
  _save_arrays(folder, samples, histories, metrics)
  half_width = float(np.max(np.abs(samples))) if samples.size else 1.0
  half_width = min(max(half_width, 3.0), 12.0)
  density, axis = target_density_on_grid(target, half_width, 2 * half_width / 150)
  fig, (ax_density, ax_loss) = plotting.new_figure(2, panel_size=4.2)
  plotting.plot_density_2d(
      ax_density, density, axis, title=f"{name}: exact density and samples", points=samples,
      overlay=density, overlay_levels=np.max(density) * np.array([0.02, 0.1, 0.3, 0.6, 0.9]))
  _loss_panel(ax_loss, histories)
  return plotting.save_figure(fig, os.path.join(folder, f"{name}.png"))


def write_particle_outputs(
    folder: str,
    name: str,
    target: benchmarks.Target,
    samples: np.ndarray,
    histories: Mapping[str, np.ndarray],
    metrics: Mapping[str, float],
    reference: np.ndarray | None = None,
) -> str:
  """Writes hist_*.npy, samples.npy, metrics.json and ``<name>_<target>.png``; returns the PNG.

  The figure shows the loss curves and the histograms of the energies and of the pairwise
  distances of the samples, over those of ``reference`` when given.
  """
  _save_arrays(folder, samples, histories, metrics)
  batch_energy = jax.jit(jax.vmap(target.energy))
  sets = {"model": samples} if reference is None else {"model": samples, "reference": reference}
  energies = {key: np.asarray(batch_energy(jnp.asarray(value))) for key, value in sets.items()}
  distances = {key: np.asarray(particles.pair_distances(jnp.asarray(value), target.n_particles))
               for key, value in sets.items()}
  # The range of the reference when there is one (or the model's), without its far tails: one
  # overlapping pair puts an LJ energy at 1e12.
  finite = [e[np.isfinite(e)] for e in energies.values()]
  low, high = np.percentile(finite[-1] if finite[-1].size else [0.0, 1.0], [0.5, 99.5])
  fig, (ax_loss, ax_energy, ax_distance) = plotting.new_figure(3)
  _loss_panel(ax_loss, histories)
  plotting.plot_histograms(ax_energy, energies, edges=np.linspace(low, high + 1e-6, 81),
                           xlabel="energy", title=f"{name} on {target.name}: energy")
  top = max(float(np.percentile(d, 99.5)) for d in distances.values()) if samples.size else 1.0
  plotting.plot_histograms(ax_distance, distances, edges=np.linspace(0.0, top + 1e-6, 81),
                           xlabel="pairwise distance", title=f"{target.name}: distances")
  return plotting.save_figure(fig, os.path.join(folder, f"{name}_{target.name}.png"))

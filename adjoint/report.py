"""Outputs shared by the 2-D entry points: histories, samples, metrics and the density figure."""

import os
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from common.evaluation import quadrature
from common.infra import io
from common.infra import plotting
from common.targets import benchmarks


def target_density_on_grid(target: benchmarks.Target, half_width: float, spacing: float):
  """exp(−E) of the target in original coordinates on a midpoint grid, normalised on the grid."""
  grid = quadrature.midpoint_grid(half_width, spacing)
  energies = jax.jit(jax.vmap(target.original_energy))(jnp.asarray(grid.points, jnp.float32))
  density = np.exp(-(np.asarray(energies, np.float64) - np.min(energies)))
  density /= density.sum() * grid.cell_area
  n = grid.axis.shape[0]
  return density.reshape(n, n), grid.axis


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
  io.save_histories(folder, histories)
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  io.save_json(os.path.join(folder, "metrics.json"), dict(metrics))
  half_width = float(np.max(np.abs(samples))) if samples.size else 1.0
  half_width = min(max(half_width, 3.0), 12.0)
  density, axis = target_density_on_grid(target, half_width, 2 * half_width / 150)
  fig, (ax_density, ax_loss) = plotting.new_figure(2, panel_size=4.2)
  plotting.plot_density_2d(
      ax_density, density, axis, title=f"{name}: exact density and samples", points=samples,
      overlay=density, overlay_levels=np.max(density) * np.array([0.02, 0.1, 0.3, 0.6, 0.9]))
  # A per-stage history (stages × epochs) is drawn as one curve over its epochs in sequence.
  losses = {key: np.ravel(value) for key, value in histories.items() if key.endswith("loss")}
  plotting.plot_curves(ax_loss, losses, xlabel="epoch", ylabel="loss", title="training loss",
                       logy=bool(losses) and all(np.all(v > 0) for v in losses.values()))
  return plotting.save_figure(fig, os.path.join(folder, f"{name}.png"))

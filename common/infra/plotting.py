"""PNG figures (matplotlib, Agg): history curves and 2-D densities with samples."""

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from common.infra import io


def new_figure(num_panels: int, panel_size: float = 3.6):
  """A row of ``num_panels`` axes; returns (figure, list of axes)."""
  fig, axes = plt.subplots(1, num_panels, figsize=(panel_size * num_panels, panel_size * 0.95))
  return fig, list(np.atleast_1d(axes))


def save_figure(fig, path: str, dpi: int = 110, tight: bool = True) -> str:
  """Saves ``fig`` as a PNG atomically and closes it; returns ``path``.

  ``tight=False`` keeps the figure's own margins (``fig.subplots_adjust``): ``tight_layout``
  costs an extra draw pass, about half a second on a four-panel figure.
  """
  if tight:
    fig.tight_layout()
  with io.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=dpi, format="png")
  plt.close(fig)
  return path


def plot_curves(
    ax,
    curves: Mapping[str, np.ndarray],
    *,
    xlabel: str = "step",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
) -> None:
  """One line per entry of ``curves`` (label -> values), against the step index."""
  for label, values in curves.items():
    values = np.asarray(values)
    ax.plot(np.arange(1, values.shape[0] + 1), values, label=label, lw=1.2)
  if logy:
    ax.set_yscale("log")
  ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
  if len(curves) > 1:
    ax.legend(fontsize=7)
  ax.grid(alpha=0.3)


def plot_density_2d(
    ax,
    density: np.ndarray,
    axis: np.ndarray,
    *,
    title: str = "",
    points: np.ndarray | None = None,
    max_points: int = 1000,
    overlay: np.ndarray | None = None,
    overlay_levels: Sequence[float] | None = None,
) -> None:
  """A density on an (n, n) grid (rows = second coordinate), optional samples and contours.

  Args:
    density: values on the grid ``axis × axis`` (``density[j, i]`` at ``(axis[i], axis[j])``).
    axis: the n grid coordinates along each axis.
    points: samples of shape (N, 2), drawn as dots (at most ``max_points``).
    overlay: a second field on the same grid (e.g. a reward) drawn as contour lines.
  """
  extent = (axis[0], axis[-1], axis[0], axis[-1])
  ax.imshow(density, origin="lower", extent=extent, cmap="Blues", aspect="equal")
  if overlay is not None:
    ax.contour(axis, axis, overlay, levels=overlay_levels, colors="crimson", linewidths=0.8)
  if points is not None:
    pts = np.asarray(points)[:max_points]
    ax.scatter(pts[:, 0], pts[:, 1], s=1.5, c="k", alpha=0.5)
  ax.set(title=title, xlim=extent[:2], ylim=extent[2:])


def plot_histograms(
    ax,
    samples: Mapping[str, np.ndarray],
    *,
    edges: np.ndarray,
    xlabel: str = "",
    title: str = "",
) -> None:
  """Step histograms (densities) of each entry of ``samples`` (label -> values) on ``edges``."""
  for label, values in samples.items():
    ax.hist(np.ravel(values), bins=edges, density=True, histtype="step", lw=1.2, label=label)
  ax.set(xlabel=xlabel, ylabel="density", title=title)
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)

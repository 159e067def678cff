"""DxMI figures: 2-D samples and energy, training curves, digit sample grids."""

from typing import Callable

import jax.numpy as jnp
import numpy as np

from common.infra import plotting


def toy2d_summary(path: str, data: np.ndarray, samples_plain: np.ndarray,
                  samples_start: np.ndarray, samples: np.ndarray, energy_fn: Callable,
                  half_width: float, infos) -> str:
  """Data, the plain few-step DDPM, DxMI's start and DxMI samples; the learned exp(−E);
  energies and σ_t over training."""
  axis = np.linspace(-half_width, half_width, 121)
  grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
  energy = np.asarray(energy_fn(jnp.asarray(grid, jnp.float32))).reshape(len(axis), len(axis))
  fig, axes = plotting.new_figure(7)
  for ax, points, title in zip(axes, (data, samples_plain, samples_start, samples),
                               ("data", f"plain DDPM, T = {infos.std.shape[1]}",
                                "DxMI start", "DxMI")):
    ax.scatter(points[:2000, 0], points[:2000, 1], s=1.0, alpha=0.5)
    ax.set(title=title, xlim=(-half_width, half_width), ylim=(-half_width, half_width),
           aspect="equal")
  density = np.exp(-(energy - energy.min()))
  plotting.plot_density_2d(axes[4], density / density.sum(), axis, title="exp(−E), learned")
  plotting.plot_curves(axes[5], {"E(data)": infos.energy_data, "E(sample)": infos.energy_sample},
                       xlabel="iteration", title="energies")
  plotting.plot_curves(axes[6], {f"σ_{t}": infos.std[:, t] for t in range(infos.std.shape[1])},
                       xlabel="iteration", title="σ_t", logy=True)
  return plotting.save_figure(fig, path)


def digits_summary(path: str, start_samples: np.ndarray, samples: np.ndarray, infos,
                   evaluations: np.ndarray) -> str:
  """Sample grids before and after fine-tuning; clfFD per evaluation; energies; V along t."""
  from common.digits import data as digits  # pylint: disable=g-import-not-at-top
  fig, axes = plotting.new_figure(5)
  digits.plot_grid(axes[0], start_samples[:64], 8)
  axes[0].set(title="FastDPM-VAR start")
  digits.plot_grid(axes[1], samples[:64], 8)
  axes[1].set(title="DxMI (best)")
  if len(evaluations):
    axes[2].plot(evaluations[:, 0], evaluations[:, 1], "o-", label="train")
    axes[2].plot(evaluations[:, 0], evaluations[:, 2], "s-", label="test")
    axes[2].set(xlabel="iteration", title="clfFD")
    axes[2].legend(fontsize=7)
    axes[2].grid(alpha=0.3)
  plotting.plot_curves(axes[3], {"E(data)": infos.energy_data, "E(sample)": infos.energy_sample},
                       xlabel="iteration", title="energies")
  axes[4].plot(np.arange(infos.values.shape[1]), infos.values[-100:].mean(0), "o-")
  axes[4].set(xlabel="t", title="mean V(x_t), last 100 iterations")
  axes[4].grid(alpha=0.3)
  return plotting.save_figure(fig, path)

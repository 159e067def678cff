"""The summary figure of a §5.1 run: reward, mixture weights, density before and after."""

import jax
import jax.numpy as jnp
import numpy as np

from common import plotting
from implicit_diffusion import algorithm as algo

_LIMIT = 8.0
_GRID = 160


def _grid_points() -> tuple[np.ndarray, np.ndarray]:
  axis = np.linspace(-_LIMIT, _LIMIT, _GRID, dtype=np.float32)
  xx, yy = np.meshgrid(axis, axis, indexing="xy")
  return np.stack([xx.ravel(), yy.ravel()], axis=1), axis


def _mixture_density(points: np.ndarray, theta: np.ndarray) -> np.ndarray:
  """π_θ = Σᵢ softmax(θ)ᵢ N(cᵢ, I), in NumPy: a figure should not wait for a compilation."""
  weights = np.exp(theta - np.max(theta))
  weights /= weights.sum()
  sq = np.sum((points[:, None, :] - np.asarray(algo.CENTRES)[None]) ** 2, axis=-1)
  return np.exp(-0.5 * sq) @ weights / (2.0 * np.pi)


def save_summary(path, reward_fn, theta_init, theta_final, histories, initial_particles,
                 final_samples) -> str:
  """Four panels: reward per step, mixture weights per step, initial and final densities.

  The reward region is drawn as contour lines of r over both densities.
  """
  fig, axes = plotting.new_figure(4)
  reward = histories["reward"][0]
  window = min(100, reward.shape[0])
  running = np.convolve(reward, np.ones(window) / window, mode="valid")
  plotting.plot_curves(
      axes[0], {"particle mean r": reward, f"running mean ({window})": running,
                "exact E[r] at theta_t": histories["exact_reward"][0]},
      ylabel="reward", title="Reward")
  weights = np.asarray(jax.nn.softmax(jnp.asarray(histories["theta"][0]), axis=-1))
  plotting.plot_curves(axes[1], {f"w{i + 1}": weights[:, i] for i in range(weights.shape[1])},
                       ylabel="softmax(theta)", title="Mixture weights")
  grid, axis = _grid_points()
  reward_field = np.asarray(jax.jit(jax.vmap(reward_fn))(grid)).reshape(_GRID, _GRID)
  levels = np.max(reward_field) * np.array([0.25, 0.5, 0.75])
  for ax, theta, points, title in ((axes[2], theta_init, initial_particles, "Initial pi_theta0"),
                                   (axes[3], theta_final, final_samples, "Final pi_theta")):
    density = _mixture_density(grid, np.asarray(theta, np.float64)).reshape(_GRID, _GRID)
    plotting.plot_density_2d(ax, density, axis, title=title, points=points,
                             max_points=300, overlay=reward_field, overlay_levels=levels)
  return plotting.save_figure(fig, path)

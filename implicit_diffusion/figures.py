"""The summary figure of a §5.1 run: reward, mixture weights, density before and after."""

import jax
import numpy as np

from common.evaluation import quadrature
from common.infra import plotting
from common.training import loops
from implicit_diffusion import algorithm as algo

_LIMIT = 8.0
_SPACING = 0.1


def save_summary(path, reward_fn, theta_init, theta_final, histories, initial_particles,
                 final_samples) -> str:
  """Four panels: reward per step, mixture weights per step, initial and final densities.

  The reward region is drawn as contour lines of r over both densities.
  """
  fig, axes = plotting.new_figure(4)
  reward = histories["reward"][0]
  window = min(100, reward.shape[0])
  # Each running mean is drawn at the last step of its window.
  running = np.concatenate([np.full(window - 1, np.nan),
                            np.convolve(reward, np.ones(window) / window, mode="valid")])
  plotting.plot_curves(
      axes[0], {"particle mean r": reward, f"running mean ({window})": running,
                "exact E[r] at theta_t": histories["exact_reward"][0]},
      ylabel="reward", title="Reward")
  weights = algo.mixture_weights(histories["theta"][0])
  plotting.plot_curves(axes[1], {f"w{i + 1}": weights[:, i] for i in range(weights.shape[1])},
                       ylabel="softmax(theta)", title="Mixture weights")
  grid = quadrature.midpoint_grid(_LIMIT, _SPACING)
  shape = (grid.axis.size, grid.axis.size)
  reward_field = np.asarray(loops.jit_run_once(jax.vmap(reward_fn))(
      grid.points.astype(np.float32)))
  reward_field = reward_field.reshape(shape)
  levels = np.max(reward_field) * np.array([0.25, 0.5, 0.75])
  centres = np.asarray(algo.CENTRES, np.float64)
  for ax, theta, points, title in ((axes[2], theta_init, initial_particles, "Initial pi_theta0"),
                                   (axes[3], theta_final, final_samples, "Final pi_theta")):
    density = quadrature.mixture_weights(grid, algo.mixture_weights(theta), centres, 1.0)
    density /= grid.cell_area
    plotting.plot_density_2d(ax, density.reshape(shape), grid.axis, title=title, points=points,
                             max_points=300, overlay=reward_field, overlay_levels=levels)
  fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.9, wspace=0.28)
  return plotting.save_figure(fig, path, tight=False)

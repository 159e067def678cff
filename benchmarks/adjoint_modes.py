"""Where the GMM mode weights of Adjoint Sampling come from: two checks without a network.

    python benchmarks/adjoint_modes.py [--num_paths=4000] [--buffer=5000] [--iterations=1]

1. The exact optimal control, simulated with the default 124 Euler–Maruyama steps. From X₀ = 0
   the optimal process has the bridge marginals p_t = Σₖ wₖ N(γ_t μₖ, γ_t² Σₖ + σ̄² γ_t(1 − γ_t) I)
   (whitened μₖ, Σₖ; γ_t = κ(t)/σ̄²), and f* = u*/σ = ∇log p_t(x) − ∇log N(x; 0, κ(t) I)
   = ∇log p_t(x) + x/κ(t) (Havens et al. 2025, §3: u* is σ∇log of the ratio of the optimal to
   the base marginal). If its samples hold 0.5 / 0.5, the time grid is not what biases the
   learned sampler.
2. Idealised Reciprocal Adjoint Matching: the regression of each epoch solved exactly, i.e. the
   next control is f(t, x) = −E[a(X₁) | X_t = x] under the buffer's endpoints joined by base
   bridges, computed by kernel weights N(x; γ_t X₁⁽ⁱ⁾, σ̄² γ_t(1 − γ_t)) over a buffer of
   endpoints. The first buffer is the base law N(0, σ̄² I), as in the first epoch of training.
   Each iteration refills the buffer from the previous control.
"""

import os
import sys

# This script is named like the package it measures: drop its own folder from the import path so
# that ``import adjoint`` finds the package (installed with ``pip install -e .``).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from adjoint import adjoint_sampling
from adjoint import controlled_sde
from adjoint import schedules
from adjoint import targets
from common.targets import benchmarks
from configs import adjoint as adjoint_config

_PATHS = flags.DEFINE_integer("num_paths", 4000, "Paths simulated per check / iteration.")
_BUFFER = flags.DEFINE_integer("buffer", 5000, "Endpoints in the idealised buffer.")
_ITERATIONS = flags.DEFINE_integer("iterations", 1, "Idealised RAM iterations from the base law.")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")


def whitened_components(target: benchmarks.Target):
  """Means (K, d) and covariances (K, d, d) of the mixture's components in sampler coordinates."""
  matrix = target.whitening.matrix
  means = target.whitening.to_whitened(target.mixture.means)
  covariances = jnp.einsum("ij,kjl,ml->kim", matrix, target.mixture.covariances, matrix)
  return means, covariances


def optimal_scaled_control(target: benchmarks.Target, schedule):
  """f*(params, t, x) = ∇log p_t(x) + x/κ(t) (``params`` unused), batched over x (N, d)."""
  means, covariances = whitened_components(target)
  log_weights = jnp.log(target.mixture.weights)
  sigma_bar_sq = schedule.terminal_variance
  eye = jnp.eye(means.shape[1])

  def log_marginal(x, t):
    gamma = schedule.kappa(t) / sigma_bar_sq
    cov = gamma**2 * covariances + sigma_bar_sq * gamma * (1.0 - gamma) * eye
    diff = x - gamma * means
    quad = jnp.einsum("ki,ki->k", diff, jnp.linalg.solve(cov, diff[..., None])[..., 0])
    return jax.nn.logsumexp(log_weights - 0.5 * quad - 0.5 * jnp.linalg.slogdet(cov)[1])

  def scaled_control(unused_params, t, x):
    t = jnp.maximum(t, 1e-4)  # X₀ = 0: at t = 0 both terms are 0 (whitened mean 0)
    grad = jax.vmap(jax.grad(log_marginal), (0, None))(x, t)
    return grad + x / schedule.kappa(t)

  return scaled_control


def idealised_scaled_control(schedule, buffer_x1: jax.Array, buffer_adjoint: jax.Array):
  """f(params, t, x) = −E[a(X₁) | X_t = x] over the buffer's endpoints joined by base bridges."""
  sigma_bar_sq = schedule.terminal_variance

  def scaled_control(unused_params, t, x):
    gamma = schedule.kappa(t) / sigma_bar_sq
    variance = jnp.maximum(sigma_bar_sq * gamma * (1.0 - gamma), 1e-12)
    sq_dist = jnp.sum((x[:, None, :] - gamma * buffer_x1[None]) ** 2, axis=-1)
    weights = jax.nn.softmax(-0.5 * sq_dist / variance, axis=1)
    at_start = jnp.broadcast_to(jnp.mean(buffer_adjoint, 0), x.shape)  # X_0 = 0 tells nothing
    return -jnp.where(t > 0, weights @ buffer_adjoint, at_start)

  return scaled_control


def report(label: str, target: benchmarks.Target, whitened: jax.Array) -> None:
  samples = np.asarray(target.whitening.from_whitened(whitened))
  metrics = targets.sample_metrics(target, samples)
  print(f"{label}: x-mean {metrics['x_mean']:.3f}, x-std {metrics['x_std']:.3f}, "
        f"mode (2, 2) {metrics['mode_0_fraction']:.4f}", flush=True)


def main(argv):
  del argv
  config = adjoint_config.get_config()
  target = targets.whitened_mixture(config.gmm_weights, config.gmm_means,
                                    config.gmm_covariance_diagonals)
  schedule = schedules.GeometricSchedule(config.sigma_min, config.sigma_max)
  start = jnp.zeros((_PATHS.value, target.dim))
  simulate = jax.jit(controlled_sde.simulate, static_argnums=(1, 5))
  key = jax.random.key(_SEED.value)

  key, key_exact = jax.random.split(key)
  exact = simulate(key_exact, optimal_scaled_control(target, schedule), None, schedule, start,
                   config.num_steps)
  report(f"exact optimal control, {config.num_steps} Euler–Maruyama steps", target, exact)

  adjoint_fn = adjoint_sampling.point_start_adjoint(target.energy, schedule,
                                                    config.max_adjoint_norm)
  key, key_base = jax.random.split(key)
  buffer = jnp.sqrt(schedule.terminal_variance) * jax.random.normal(
      key_base, (_BUFFER.value, target.dim))
  report("base law N(0, σ̄² I) (the first buffer)", target, buffer)
  for iteration in range(_ITERATIONS.value):
    control = idealised_scaled_control(schedule, buffer, adjoint_fn(buffer))
    keys = jax.random.split(jax.random.fold_in(key, iteration), -(-_BUFFER.value // _PATHS.value))
    buffer = jnp.concatenate([
        simulate(k, control, None, schedule, start, config.num_steps) for k in keys
    ])[:_BUFFER.value]
    report(f"idealised RAM iteration {iteration + 1}", target, buffer)


if __name__ == "__main__":
  app.run(main)

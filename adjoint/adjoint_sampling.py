"""Adjoint Sampling (Havens et al. 2025, "Adjoint Sampling: Highly Scalable Diffusion Samplers
via Adjoint Matching"): a controlled SDE from X₀ = 0 whose X₁ samples exp(−E).

With a point start, the base process has X₁ ~ N(0, σ̄² I), and the SOC problem with terminal cost

    g(x) = E(x) + log p₁^base(x) = E(x) − ‖x‖²/(2σ̄²) + const

has the optimal terminal law p₁^base · exp(−g) ∝ exp(−E) (Havens et al. 2025, §3). Training is
Reciprocal Adjoint Matching (``adjoint.adjoint_matching``) with a = clip(∇E(X₁) − X₁/σ̄²).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from adjoint import adjoint_matching
from adjoint import controlled_sde
from adjoint import targets
from adjoint import training
from common import clipping
from common import networks
from common import parallel
from common import schedules
from common import sde


class TrainingResult(NamedTuple):
  params: Any
  infos: adjoint_matching.AdjointMatchingInfo  # per epoch, NumPy arrays
  apply_fn: controlled_sde.ScaledControlFn
  schedule: schedules.GeometricSchedule


def schedule_from(config: ml_collections.ConfigDict) -> schedules.GeometricSchedule:
  return schedules.GeometricSchedule(config.sigma_min, config.sigma_max)


def control_network(config: ml_collections.ConfigDict, dim: int) -> networks.FourierTimeMLP:
  """f_θ(t, x) = u_θ(t, x)/σ(t)."""
  return networks.FourierTimeMLP(
      tuple(config.hidden_sizes), dim, config.num_frequencies, config.activation)


def dirac_prior(dim: int):
  """X₀ = 0."""
  return lambda unused_key, num: jnp.zeros((num, dim), jnp.float32)


def point_start_adjoint(energy, schedule: schedules.GeometricSchedule, max_norm: float | None):
  """a(X₁) = clip(∇E(X₁) − X₁/σ̄²), the adjoint of Adjoint Sampling with X₀ = 0."""
  def adjoint(x1):
    return clipping.clip_rows(
        sde.energy_grad(energy, x1) - x1 / schedule.terminal_variance, max_norm)
  return adjoint


def train(
    key: jax.Array, config: ml_collections.ConfigDict, target: targets.Target,
    progress: bool = True, manager: ocp.CheckpointManager | None = None,
) -> TrainingResult:
  """Runs ``config.num_epochs`` epochs of Adjoint Sampling on ``target``.

  With a ``manager`` (``common.checkpoint``) the key, the algorithm's state (parameters, their
  average, optimiser state, buffer) and the histories are saved every
  ``config.checkpoint_every`` epochs, and training resumes from the latest checkpoint there.
  """
  schedule = schedule_from(config)
  network = control_network(config, target.dim)
  apply_fn = network.apply
  algorithm = adjoint_matching.adjoint_matching(
      apply_fn, schedule, optax.adam(config.learning_rate), dirac_prior(target.dim),
      point_start_adjoint(target.energy, schedule, config.max_adjoint_norm),
      num_paths=config.n_paths, num_steps=config.num_steps, inner_steps=config.n_inner_loop,
      batch_size=config.batch_size, buffer_capacity=config.buffer_size,
      ema_decay=config.ema_decay, observe=target.whitening.from_whitened)
  key_init, key_train = jax.random.split(key)
  params = network.init(key_init, jnp.zeros(()), jnp.zeros((1, target.dim)))
  state = algorithm.init(params, target.dim)
  done, (key_train, state), histories = training.restore(manager, (key_train, state))
  runner = training.make_epoch_runner(algorithm.step)
  _, state = training.train_epochs(
      runner, key_train, state, (), config.num_epochs, config.chunk_size, histories,
      block_size=config.checkpoint_every, manager=manager, done=done, progress=progress)
  return TrainingResult(state.sampling_params, adjoint_matching.AdjointMatchingInfo(**histories),
                        apply_fn, schedule)


def draw_samples(
    key: jax.Array, result: TrainingResult, target: targets.Target, prior, num: int,
    num_steps: int,
) -> np.ndarray:
  """``num`` samples X₁ of the trained SDE, in the target's original coordinates."""
  key_prior, key_paths = jax.random.split(key)
  simulate = jax.jit(controlled_sde.simulate, static_argnums=(1, 5))
  x1 = simulate(key_paths, result.apply_fn, result.params, result.schedule,
                prior(key_prior, num), num_steps)
  return parallel.to_host(target.whitening.from_whitened(x1))


def optimal_well_control(schedule: schedules.GeometricSchedule, scale: float, t, x):
  """u*(t, x) = −σ(t) c x / (1 + c(σ̄² − κ(t))), c = 1/s² − 1/σ̄², for E = ½‖x‖²/s², X₀ = 0.

  The value function of the terminal cost g = E + log p₁^base = ½ c ‖x‖² under dX = σ dW is
  V(t, x) = −log E[exp(−g(X₁)) | X_t = x] = ½ c ‖x‖² / (1 + c(σ̄² − κ(t))) + const, since
  X₁ | X_t ~ N(X_t, (σ̄² − κ(t)) I); and u* = −σ ∇V (Havens et al. 2025, eq. 5).
  NumPy float64; ``t`` a float, or an array broadcasting against ``x``.
  """
  sigma_bar_sq = float(schedule.terminal_variance)
  c = 1.0 / scale**2 - 1.0 / sigma_bar_sq
  sigma = np.asarray(schedule.sigma(jnp.asarray(t, jnp.float32)), np.float64)
  kappa = np.asarray(schedule.kappa(jnp.asarray(t, jnp.float32)), np.float64)
  return -sigma * c * x / (1.0 + c * (sigma_bar_sq - kappa))


def optimal_well_marginal_std(schedule: schedules.GeometricSchedule, scale: float, t: float):
  """Std of X_t under u*: p_t ∝ N(0, κ(t)) · exp(−V(t, ·)), a Gaussian."""
  sigma_bar_sq = float(schedule.terminal_variance)
  c = 1.0 / scale**2 - 1.0 / sigma_bar_sq
  kappa = float(schedule.kappa(t))
  return (1.0 / kappa + c / (1.0 + c * (sigma_bar_sq - kappa))) ** -0.5


def well_control_errors(result: TrainingResult, scale: float, times) -> dict[float, float]:
  """‖u_θ − u*‖ / ‖u*‖ at each time, over a 9 × 9 grid of x spanning ±2 std of X_t under u*."""
  errors = {}
  for t in times:
    half_width = 2.0 * optimal_well_marginal_std(result.schedule, scale, t)
    axis = np.linspace(-half_width, half_width, 9)
    x = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2).astype(np.float32)
    learned = np.asarray(controlled_sde.control(
        result.apply_fn, result.params, result.schedule, jnp.float32(t), jnp.asarray(x)))
    exact = optimal_well_control(result.schedule, scale, t, x)
    errors[float(t)] = float(np.linalg.norm(learned - exact) / np.linalg.norm(exact))
  return errors

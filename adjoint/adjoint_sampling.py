"""Adjoint Sampling (Havens et al. 2025, "Adjoint Sampling: Highly Scalable Diffusion Samplers
via Adjoint Matching"): a controlled SDE from X₀ = 0 whose X₁ samples exp(−E).

With a point start, the base process has X₁ ~ N(0, σ̄² I), and the SOC problem with terminal cost

    g(x) = E(x) + log p₁^base(x) = E(x) − ‖x‖²/(2σ̄²) + const

has the optimal terminal law p₁^base · exp(−g) ∝ exp(−E) (Havens et al. 2025, §3). Training is
Reciprocal Adjoint Matching (``adjoint.adjoint_matching``) with a = clip(∇E(X₁) − X₁/σ̄²).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from adjoint import adjoint_matching
from adjoint import clipping
from adjoint import controlled_sde
from adjoint import particles
from adjoint import schedules
from common import types
from common.kernels import sde
from common.networks import mlp
from common.targets import benchmarks


CONTROL_OUTPUTS = ("f", "u")


class SigmaScaledControl(nn.Module):
  """f_θ(t, x) = g_θ(t, x)/σ(t): the network g_θ outputs the control u = σ f itself.

  The same family of controls, trained on the same loss, but the loss's gradient in θ is the
  residual over σ(t), so late times (small σ) weigh far more than when the network outputs f.
  The drift σ(t) u of the gentoymodels toy is this parametrisation; the papers' code has the
  network output f (drift σ² f), our default.
  """
  network: nn.Module
  schedule: schedules.GeometricSchedule

  def __call__(self, t: jax.Array, x: jax.Array) -> jax.Array:
    sigma = self.schedule.sigma(jnp.asarray(t, x.dtype))
    return self.network(t, x) / (sigma[..., None] if sigma.ndim else sigma)


def control_network(*, dim: int, hidden_sizes, num_frequencies: int, activation: str,
                    output: str = "f", schedule: schedules.GeometricSchedule | None = None
                    ) -> nn.Module:
  """f_θ(t, x) = u_θ(t, x)/σ(t), an MLP of [x, Fourier features of t].

  Args:
    dim: the dimension of x.
    hidden_sizes, num_frequencies, activation: the MLP's (``common.networks.mlp``).
    output: "f", the MLP outputs f_θ (the papers' code); "u", it outputs u_θ = σ f_θ
      (``SigmaScaledControl``, needs ``schedule``).
    schedule: σ(t), for ``output="u"``.
  """
  if output not in CONTROL_OUTPUTS:
    raise ValueError(f"output must be one of {CONTROL_OUTPUTS}, got {output!r}")
  network = mlp.FourierTimeMLP(tuple(hidden_sizes), dim, num_frequencies, activation)
  return network if output == "f" else SigmaScaledControl(network, schedule)


def dirac_prior(dim: int) -> adjoint_matching.PriorSampler:
  """X₀ = 0."""
  return lambda unused_key, num: jnp.zeros((num, dim), jnp.float32)


def observe_fn(target: benchmarks.Target):
  """The map from the sampler's coordinates to the target's: its whitening, or the identity."""
  return (lambda x: x) if target.whitening is None else target.whitening.from_whitened


def point_start_adjoint(energy, schedule: schedules.GeometricSchedule, max_norm: float | None):
  """a(X₁) = clip(∇E(X₁) − X₁/σ̄²), the adjoint of Adjoint Sampling with X₀ = 0."""
  def adjoint(x1):
    return clipping.clip_rows(
        sde.energy_grad(energy, x1) - x1 / schedule.terminal_variance, max_norm)
  return adjoint


def adjoint_sampler(
    *,
    control: nn.Module,
    target: benchmarks.Target,
    schedule: schedules.GeometricSchedule,
    optimizer: optax.GradientTransformation,
    max_adjoint_norm: float | None,
    **matching: Any,
) -> types.Sampler:
  """Adjoint Sampling of ``target``: adjoint matching from X₀ = 0 with the point-start adjoint.

  ``target.energy`` is sampled in the sampler's coordinates; ``target.whitening`` (when set)
  maps the infos' moments and ``sample``'s draws to the target's own. A particle system
  (``target.n_particles`` > 1) is sampled with zero centre of mass (``adjoint.particles``):
  projected paths and bridges, and the adjoint P clip(∇E) − X₁/σ̄² with ∇E clipped per particle.

  Args:
    control, schedule, optimizer: as in ``adjoint.adjoint_matching.reciprocal_adjoint_matching``;
      for a particle system an equivariant, centred ``control``
      (``adjoint.particles.control_network``).
    target: the Boltzmann target.
    max_adjoint_norm: the clipping of the adjoint per sample, or for a particle system of ∇E per
      particle (None: none).
    **matching: the sizes of an epoch and the moving average, as in
      ``reciprocal_adjoint_matching``: ``num_paths``, ``num_steps``, ``inner_steps``,
      ``batch_size``, ``buffer_capacity`` and optionally ``ema_decay``.

  Returns:
    ``Sampler(init, step, sample)``: ``init(key) -> AdjointMatchingState``,
    ``step(key, state) -> (state, MatchingInfo)`` (one epoch), ``sample(key, params, n)`` with
    ``params`` the state's ``sampling_params``.
  """
  if target.n_particles > 1:
    project = particles.centring(target.n_particles)
    adjoint = particles.point_start_adjoint(target.energy, target.n_particles, schedule,
                                            max_adjoint_norm)
  else:
    project, adjoint = None, point_start_adjoint(target.energy, schedule, max_adjoint_norm)
  return adjoint_matching.reciprocal_adjoint_matching(
      control=control, dim=target.dim, schedule=schedule, optimizer=optimizer,
      sample_prior=dirac_prior(target.dim), terminal_adjoint=adjoint,
      observe=observe_fn(target), project=project, **matching)


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


def well_control_errors(
    apply_fn: controlled_sde.ScaledControlFn, params: Any, schedule: schedules.GeometricSchedule,
    scale: float, times) -> dict[float, float]:
  """‖u_θ − u*‖ / ‖u*‖ at each time, over a 9 × 9 grid of x spanning ±2 std of X_t under u*."""
  errors = {}
  for t in times:
    half_width = 2.0 * optimal_well_marginal_std(schedule, scale, t)
    axis = np.linspace(-half_width, half_width, 9)
    x = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2).astype(np.float32)
    learned = np.asarray(controlled_sde.control(
        apply_fn, params, schedule, jnp.float32(t), jnp.asarray(x)))
    exact = optimal_well_control(schedule, scale, t, x)
    errors[float(t)] = float(np.linalg.norm(learned - exact) / np.linalg.norm(exact))
  return errors

"""The geometric noise schedule of Adjoint Sampling and its Brownian bridge.

The base process is dX = σ(t) dW on [0, 1] with the geometric (variance-exploding) schedule of
Karras et al. (2022) as used by Havens et al. (2025, "Adjoint Sampling", §4) and Liu et al. (2025,
"Adjoint Schrödinger Bridge Sampler"):

    σ(t) = σ_min · D^{1−t} · √(2 ln D),    D = σ_max / σ_min,
    κ(t) = ∫₀ᵗ σ(s)² ds = σ_max² (1 − D^{−2t}).

The noise is largest at t = 0 and smallest at t = 1, and κ(1) = σ_max² − σ_min² =: σ̄².
"""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp


class GeometricSchedule(NamedTuple):
  """σ(t) = σ_min D^{1−t} √(2 ln D) with D = σ_max / σ_min.

  A PyTree of two floats; every method is written in ``jax.numpy``, so a schedule may be passed
  through ``jit`` as a traced argument.
  """
  sigma_min: float
  sigma_max: float

  @property
  def log_ratio(self) -> jax.Array:
    """ln D."""
    return jnp.log(self.sigma_max / self.sigma_min)

  def sigma(self, t: jax.Array) -> jax.Array:
    """The diffusion coefficient σ(t)."""
    return self.sigma_min * jnp.exp((1.0 - t) * self.log_ratio) * jnp.sqrt(2.0 * self.log_ratio)

  def kappa(self, t: jax.Array) -> jax.Array:
    """The accumulated variance κ(t) = ∫₀ᵗ σ² = σ_max² (1 − D^{−2t})."""
    # expm1 keeps κ accurate for small t, where 1 − D^{−2t} would cancel in float32.
    return -self.sigma_max**2 * jnp.expm1(-2.0 * t * self.log_ratio)

  @property
  def terminal_variance(self) -> jax.Array:
    """σ̄² = κ(1) = σ_max² − σ_min², the variance of X₁ under the base process from a point."""
    return self.kappa(1.0)


def bridge_moments(
    schedule: GeometricSchedule, t: jax.Array, x0: jax.Array, x1: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """Mean and (isotropic) variance of the base-process bridge p(X_t | X₀, X₁).

      X_t | X₀, X₁ ~ N((1 − γ_t) X₀ + γ_t X₁, σ̄² γ_t (1 − γ_t) I),    γ_t = κ(t) / σ̄²

  (the Brownian bridge in the time change s = κ(t); Havens et al. 2025, eq. 14).

  Args:
    schedule: the noise schedule.
    t: times, shape (N,) for a batch of pairs (or () for one pair).
    x0: starting points, shape (N, d) (or (d,)).
    x1: end points, same shape as ``x0``.

  Returns:
    ``(mean, variance)`` with mean of shape ``x0.shape`` and variance of shape (N, 1) (or (1,)),
    clamped at 0 so that round-off never yields a negative variance.
  """
  chex.assert_equal_shape([x0, x1])
  chex.assert_equal(t.shape, x0.shape[:-1])
  gamma = (schedule.kappa(t) / schedule.terminal_variance)[..., None]
  mean = (1.0 - gamma) * x0 + gamma * x1
  variance = jnp.maximum(schedule.terminal_variance * gamma * (1.0 - gamma), 0.0)
  return mean, variance


def sample_bridge(
    key: jax.Array, schedule: GeometricSchedule, t: jax.Array, x0: jax.Array, x1: jax.Array
) -> jax.Array:
  """One draw of X_t from ``bridge_moments`` for each pair; exact X₀ at t = 0 and X₁ at t = 1."""
  mean, variance = bridge_moments(schedule, t, x0, x1)
  return mean + jnp.sqrt(variance) * jax.random.normal(key, mean.shape, mean.dtype)

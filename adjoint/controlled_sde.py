"""The controlled SDE of Adjoint Sampling and ASBS, and its Euler–Maruyama simulation.

    dX_t = σ(t) u(t, X_t) dt + σ(t) dW_t,    t ∈ [0, 1]

(Havens et al. 2025, eq. 3; Liu et al. 2025, eq. 1), with σ the geometric schedule of
``adjoint.schedules``. The network predicts the control divided by the noise level,

    u_θ(t, x) = σ(t) f_θ(t, x),

because the matching losses regress u/σ onto an adjoint of order one at every t, while u itself
spans three decades (σ(0)/σ(1) = 1000); the optimal f is then smooth and O(1) in t, and the drift
is σ(t)² f_θ(t, x).
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp

from adjoint import schedules
from common.infra import parallel
from common.kernels import sde

# f(params, t, x): t a scalar or shape (N,), x of shape (N, d); returns (N, d).
ScaledControlFn = Callable[[Any, jax.Array, jax.Array], jax.Array]
# A linear projection of states (N, d) onto the subspace the process lives in, e.g. zero centre
# of mass for particle systems (``adjoint.particles.centring``).
Projection = Callable[[jax.Array], jax.Array]


def control(
    apply_fn: ScaledControlFn, params: Any, schedule: schedules.GeometricSchedule,
    t: jax.Array, x: jax.Array,
) -> jax.Array:
  """u_θ(t, x) = σ(t) f_θ(t, x); ``t`` scalar or shape x.shape[:-1]."""
  sigma = schedule.sigma(jnp.asarray(t, x.dtype))
  return sigma[..., None] * apply_fn(params, t, x)


def time_grid(num_steps: int, dtype=jnp.float32) -> jax.Array:
  """The uniform Euler–Maruyama grid 0 = t₀ < … < t_K = 1."""
  return jnp.linspace(0.0, 1.0, num_steps + 1, dtype=dtype)


def simulate(
    key: jax.Array,
    apply_fn: ScaledControlFn,
    params: Any,
    schedule: schedules.GeometricSchedule,
    x0: jax.Array,
    num_steps: int,
    project: Projection | None = None,
) -> jax.Array:
  """X₁ from X₀ by Euler–Maruyama on the controlled SDE, without gradients to ``params``.

      X_{k+1} = X_k + σ(t_k)² f_θ(t_k, X_k) Δt + σ(t_k) ΔW_k

  With a projection P (zero centre of mass) the drift and the Brownian increments are
  projected, dX = σ² P f dt + σ P dW: the base process of a particle system is a Brownian motion
  on the zero-centre-of-mass subspace (``GraphVESDE`` of facebookresearch/adjoint_samplers, the
  papers' code), and a centred X₀ stays centred.

  Args:
    key: key of the Brownian increments.
    apply_fn: f_θ(params, t, x).
    params: network parameters (held constant: the matching losses need no path gradients).
    schedule: the noise schedule.
    x0: starting points (N, d).
    num_steps: K, the number of uniform steps on [0, 1].
    project: P, or None for none.

  Returns:
    X₁, shape (N, d), split by rows over the devices like X₀.

  Raises:
    ValueError: when N does not divide by the device count (``common.infra.parallel``).
  """
  params = jax.lax.stop_gradient(params)
  x0 = parallel.shard_batch(x0, "number of paths")  # independent paths: a share per device

  def drift(t, x):
    return schedule.sigma(t) ** 2 * apply_fn(params, t, x)

  def diffusion(t, unused_x):
    return schedule.sigma(t)

  ts = time_grid(num_steps, x0.dtype)
  if project is None:
    x1, _ = sde.simulate_sde(key, drift, diffusion, x0, ts)
    return x1
  # P is linear and the diffusion scalar, so projecting the increments projects the noise.
  increments = project(sde.brownian_increments(key, ts, x0.shape, x0.dtype))
  x1, _ = sde.solve_sde(lambda t, x: project(drift(t, x)), diffusion, x0, ts, increments)
  return x1

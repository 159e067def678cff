"""Langevin (ULA), MALA and Euler–Maruyama kernels, pure and jit/vmap-able.

Conventions shared by every kernel here:

* An energy ``energy_fn(x, *args) -> scalar`` is written for ONE configuration ``x`` of shape
  ``(d,)`` (particle systems are flat ``(n_particles * dim,)``). A kernel's state may hold one
  configuration ``(d,)`` or a batch ``(N, d)``; forces come from ``jax.grad``, vmapped over the
  batch. Gaussian noise is drawn in one call of the state's shape, so a batch of N chains uses one
  key per step, not N.
* Extra ``*args`` of ``step`` are passed to the energy unchanged (e.g. parameters that move
  between steps, as in Implicit Diffusion).
* A kernel factory closes over its hyperparameters and returns the library's one contract,
  ``common.types.Algorithm(init, step)``, with ``step(key, state, *args) -> (state, info)``. A
  Markov kernel's randomness starts in its initial position, so its ``init`` takes the position
  where a trained algorithm's takes a key: ``init(position, *args) -> state`` (as in blackjax).
  ``run_chain`` drives any kernel in ``lax.scan``.
"""

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from common import types

EnergyFn = Callable[..., jax.Array]
DriftFn = Callable[..., jax.Array]


def _batched(fn: Callable[..., jax.Array], x: jax.Array, args: tuple) -> jax.Array:
  """Applies a one-configuration function to ``x`` of shape (d,) or, vmapped, (N, d)."""
  if x.ndim == 1:
    return fn(x, *args)
  if x.ndim == 2:
    return jax.vmap(fn, in_axes=(0,) + (None,) * len(args))(x, *args)
  raise ValueError(f"expected one configuration (d,) or a batch (N, d), got shape {x.shape}")


def energy_and_grad(energy_fn: EnergyFn, x: jax.Array, *args) -> tuple[jax.Array, jax.Array]:
  """Energy and ``∇ₓE`` of one configuration ``(d,)`` or a batch ``(N, d)``."""
  return _batched(jax.value_and_grad(energy_fn), x, args)


def energy_grad(energy_fn: EnergyFn, x: jax.Array, *args) -> jax.Array:
  """``∇ₓE`` of one configuration ``(d,)`` or a batch ``(N, d)`` (``jax.grad``, vmapped)."""
  return _batched(jax.grad(energy_fn), x, args)


# --------------------------------------------------------------------------------------------
# Unadjusted Langevin algorithm.


class ULAState(NamedTuple):
  position: jax.Array


class ULAInfo(NamedTuple):
  """ULA accepts every move: nothing to report."""


def ula(energy_fn: EnergyFn, step_size: float | jax.Array) -> types.Algorithm:
  """Unadjusted Langevin algorithm (Euler–Maruyama on the overdamped Langevin SDE).

  One step, for the target ``π ∝ exp(-E)`` (Roberts & Tweedie 1996; Marion et al. 2024, eq. 5):

      x' = x − γ ∇ₓE(x) + √(2γ) ξ,    ξ ~ N(0, I).

  The chain is biased: on ``E = ½‖x‖²/σ²`` its stationary law is ``N(0, σ² / (1 − γ/(2σ²)) I)``.

  Args:
    energy_fn: ``E(x, *args)`` for one configuration.
    step_size: γ > 0 (a scalar, or an array broadcastable to the state for per-chain steps).

  Returns:
    ``Algorithm(init, step)``; ``step(key, state, *args) -> (ULAState, ULAInfo)``.
  """

  def init(position: jax.Array, *unused_args) -> ULAState:
    return ULAState(jnp.asarray(position))

  def step(key: jax.Array, state: ULAState, *args) -> tuple[ULAState, ULAInfo]:
    x = state.position
    noise = jax.random.normal(key, x.shape, x.dtype)
    return ULAState(ula_move(energy_fn, step_size, x, noise, *args)), ULAInfo()

  return types.Algorithm(init, step)


def ula_move(energy_fn: EnergyFn, step_size: float | jax.Array, x: jax.Array, noise: jax.Array,
             *args) -> jax.Array:
  """The ULA step ``x − γ ∇ₓE(x) + √(2γ) ξ`` on standard normal noise ξ drawn by the caller.

  For loops that draw the noise of many steps at once (``ula``'s step draws its own).
  """
  return x - step_size * energy_grad(energy_fn, x, *args) + jnp.sqrt(2.0 * step_size) * noise


# --------------------------------------------------------------------------------------------
# Metropolis-adjusted Langevin algorithm.


class MALAState(NamedTuple):
  position: jax.Array
  energy: jax.Array
  energy_grad: jax.Array


class MALAInfo(NamedTuple):
  acceptance_probability: jax.Array
  is_accepted: jax.Array


def mala(energy_fn: EnergyFn, step_size: float | jax.Array) -> types.Algorithm:
  """Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996).

  Proposal ``y = x − γ∇E(x) + √(2γ) ξ``, accepted with probability ``min(1, exp(a))``,

      a = E(x) − E(y) + (‖y − x + γ∇E(x)‖² − ‖x − y + γ∇E(y)‖²) / (4γ),

  which leaves ``π ∝ exp(-E)`` exactly invariant. On a batch each chain accepts on its own.
  The state caches the energy and its gradient; if ``*args`` change, call ``init`` again.

  Args:
    energy_fn: ``E(x, *args)`` for one configuration.
    step_size: γ > 0: a scalar, or shape (N, 1) for one step size per chain of a batch (it may be
      a traced value, e.g. adapted inside a scan).

  Returns:
    ``Algorithm(init, step)``; ``step(key, state, *args) -> (MALAState, MALAInfo)``.
  """

  def init(position: jax.Array, *args) -> MALAState:
    position = jnp.asarray(position)
    energy, grad = energy_and_grad(energy_fn, position, *args)
    return MALAState(position, energy, grad)

  def step(key: jax.Array, state: MALAState, *args) -> tuple[MALAState, MALAInfo]:
    key_noise, key_accept = jax.random.split(key)
    x, e_x, g_x = state
    noise = jax.random.normal(key_noise, x.shape, x.dtype)
    y = x - step_size * g_x + jnp.sqrt(2.0 * step_size) * noise
    e_y, g_y = energy_and_grad(energy_fn, y, *args)

    def log_q(to, frm, grad_frm):  # log q(to | frm) up to a constant shared by both directions
      return -jnp.sum((to - frm + step_size * grad_frm) ** 2 / (4.0 * step_size), axis=-1)

    log_ratio = e_x - e_y + log_q(x, y, g_y) - log_q(y, x, g_x)
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    accept_prob = jnp.minimum(1.0, jnp.exp(log_ratio))
    accepted = jax.random.uniform(key_accept, accept_prob.shape) < accept_prob
    keep = accepted[..., None] if x.ndim == 2 else accepted
    new_state = MALAState(
        jnp.where(keep, y, x), jnp.where(accepted, e_y, e_x), jnp.where(keep, g_y, g_x))
    return new_state, MALAInfo(accept_prob, accepted)

  return types.Algorithm(init, step)


def run_chain(
    kernel: types.Algorithm, key: jax.Array, state: Any, num_steps: int, *args
) -> tuple[Any, Any]:
  """Runs ``num_steps`` steps of ``kernel`` in ``lax.scan``; returns (final state, stacked info).

  Step ``i`` uses the ``i``-th key of ``jax.random.split(key, num_steps)``.
  """
  def body(state, step_key):
    return kernel.step(step_key, state, *args)

  return jax.lax.scan(body, state, jax.random.split(key, num_steps))


# --------------------------------------------------------------------------------------------
# Euler–Maruyama for dX = b(t, X) dt + σ(t, X) dW.


def brownian_increments(
    key: jax.Array, ts: jax.Array, shape: tuple[int, ...], dtype=jnp.float32
) -> jax.Array:
  """Increments ``W(t_{k+1}) − W(t_k) ~ N(0, (t_{k+1} − t_k) I)`` on the grid ``ts``.

  Returns:
    Array of shape ``(len(ts) - 1, *shape)``. Summing consecutive increments gives the same
    Brownian path on a coarser grid, which is how strong convergence is measured.
  """
  ts = jnp.asarray(ts, dtype)
  dts = jnp.diff(ts)
  noise = jax.random.normal(key, (dts.shape[0],) + tuple(shape), dtype)
  return noise * jnp.sqrt(dts).reshape((-1,) + (1,) * len(shape))


def solve_sde(
    drift: DriftFn,
    diffusion: DriftFn,
    x0: jax.Array,
    ts: jax.Array,
    increments: jax.Array,
    *args,
    save_path: bool = False,
) -> tuple[jax.Array, jax.Array | None]:
  """Euler–Maruyama for ``dX = b(t, X, *args) dt + σ(t, X, *args) dW`` on the grid ``ts``.

      X_{k+1} = X_k + b(t_k, X_k) Δt_k + σ(t_k, X_k) ΔW_k     (Kloeden & Platen 1992, §9.1)

  Strong order 1/2 for state-dependent σ, order 1 for additive noise. ``b`` and ``σ`` receive the
  whole state (one configuration or a batch) and a scalar time; ``σ`` returns a scalar or an array
  broadcastable to the state (diagonal noise).

  Args:
    drift: ``b(t, x, *args)``.
    diffusion: ``σ(t, x, *args)``.
    x0: initial state.
    ts: increasing time grid, shape (K + 1,).
    increments: Brownian increments, shape (K, *x0.shape) (see ``brownian_increments``).
    *args: passed to ``b`` and ``σ`` (e.g. network parameters).
    save_path: also return the states at every grid time, shape (K + 1, *x0.shape).

  Returns:
    ``(X(t_K), path or None)``.
  """
  ts = jnp.asarray(ts, x0.dtype)
  chex.assert_equal(increments.shape, (ts.shape[0] - 1,) + x0.shape)

  def body(x, inputs):
    t, dt, dw = inputs
    x_next = x + drift(t, x, *args) * dt + diffusion(t, x, *args) * dw
    return x_next, (x_next if save_path else None)

  x_final, path = jax.lax.scan(body, x0, (ts[:-1], jnp.diff(ts), increments))
  if save_path:
    path = jnp.concatenate([x0[None], path], axis=0)
  return x_final, path


def simulate_sde(
    key: jax.Array,
    drift: DriftFn,
    diffusion: DriftFn,
    x0: jax.Array,
    ts: jax.Array,
    *args,
    save_path: bool = False,
) -> tuple[jax.Array, jax.Array | None]:
  """``solve_sde`` on fresh Brownian increments drawn from ``key``."""
  increments = brownian_increments(key, ts, x0.shape, x0.dtype)
  return solve_sde(drift, diffusion, x0, ts, increments, *args, save_path=save_path)

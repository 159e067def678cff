r"""DxMI's sampler: an S-step Gaussian chain on a pretrained ε-network (Yoon et al. 2024, §4).

x_0 ~ N(0, I), x_{t+1} ~ N(μ_φ(x_t, t), σ_t² I): the mean μ_φ(x, t) = c_t x + e_t ε(x, τ_t) comes
from the ε-network through a FastDPM reduction (``dxmi.fastdpm``) or a plain DDPM's ancestral
step, and the per-step noise σ_t is a parameter (the last one fixed at ``fastdpm.LAST_STEP_STD``
unless ``learn_last_std``). Sampler parameters: ``{"net": the ε-network's, "log_std": (S,)}``.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.diffusion import ddpm
from common.infra import parallel
from dxmi import fastdpm

PyTree = Any
EpsFn = Callable[[PyTree, jax.Array, jax.Array], jax.Array]  # (params, x (B, D), τ (B,)) -> (B, D)
ValueFn = Callable[[PyTree, jax.Array, jax.Array], jax.Array]  # (params, x (B, D), t (B,)) -> (B,)
Guidance = Callable[[jax.Array, jax.Array], jax.Array]  # (x_{t+1} (B, D), t (B,)) -> shift (B, D)


class Policy(NamedTuple):
  """The few-step sampler: ε-network and the reduced schedule's constants (float32 arrays).

  ``std_max`` > 0 caps every σ_t softly below it (see ``step_std``); 0 leaves σ_t = exp(log_std)
  unbounded. ``learn_last_std`` learns the last step's σ too (the 2-D toy's Gaussian policy);
  otherwise it stays at ``fastdpm.LAST_STEP_STD`` (the image sampler).
  """
  eps_fn: EpsFn
  timesteps: jax.Array  # (S,) continuous DDPM steps queried at each sampling step
  x_coef: jax.Array  # (S,)
  eps_coef: jax.Array  # (S,)
  dim: int
  std_max: float = 0.0
  learn_last_std: bool = False

  @property
  def num_steps(self) -> int:
    return self.timesteps.shape[0]


def make_policy(eps_fn: EpsFn, schedule: fastdpm.ReducedSchedule, dim: int,
                std_max: float = 0.0, learn_last_std: bool = False) -> Policy:
  """The policy of ``eps_fn`` on ``schedule``'s steps, for states of dimension ``dim``."""
  as32 = lambda a: jnp.asarray(a, jnp.float32)
  return Policy(eps_fn, as32(schedule.timesteps), as32(schedule.x_coef),
                as32(schedule.eps_coef), dim, std_max, learn_last_std)


def ancestral_steps(schedule: ddpm.DiscreteSchedule) -> fastdpm.ReducedSchedule:
  """``ddpm.ancestral_sample`` of a T-step DDPM as a T-step policy: step i queries t = T−1−i,
  x ← (x − β_t ε̂/√(1 − ᾱ_t))/√α_t + √β̃_t ξ; the last (t = 0, noiseless) gets
  ``fastdpm.LAST_STEP_STD``."""
  betas = np.asarray(schedule.betas, np.float64)[::-1]
  alpha_bars = np.asarray(schedule.alpha_bars, np.float64)
  previous = np.concatenate([[1.0], alpha_bars[:-1]])[::-1]
  alpha_bars = alpha_bars[::-1]
  std = np.sqrt(betas * (1 - previous) / (1 - alpha_bars))
  std[-1] = fastdpm.LAST_STEP_STD
  return fastdpm.ReducedSchedule(
      timesteps=np.arange(len(betas), dtype=np.float64)[::-1].copy(),
      x_coef=1 / np.sqrt(1 - betas), eps_coef=-betas / np.sqrt((1 - alpha_bars) * (1 - betas)),
      std=std, gamma_bar=np.asarray(schedule.alpha_bars, np.float64))


def init_sampler_params(policy: Policy, net_params: PyTree, std: jax.Array) -> dict:
  """Sampler parameters: the ε-network's and the σ_t parameters, started at σ_t = ``std``
  (e.g. the schedule's κ = 1 values); inverse of ``step_std``."""
  std = jnp.asarray(std, jnp.float32)
  if policy.std_max > 0:
    if not np.all(np.asarray(std) < policy.std_max):
      raise ValueError(f"initial σ_t {np.asarray(std)} must lie below std_max {policy.std_max}")
    return {"net": net_params, "log_std": jnp.log(std) - jnp.log1p(-std / policy.std_max)}
  return {"net": net_params, "log_std": jnp.log(std)}


def step_std(policy: Policy, params: dict, t: jax.Array) -> jax.Array:
  """σ_t from the parameter ρ_t = ``params["log_std"][t]``: exp(ρ_t), or with a cap
  σ_max · sigmoid(ρ_t − log σ_max), which is ≈ exp(ρ_t) for σ_t ≪ σ_max and saturates at σ_max,
  so that the entropy bonus −τ₁ log σ_t stops paying once σ_t nears the cap (without a cap, a
  last step that can map any x_{S−1} onto the data makes the earlier steps' entropy free and
  their σ_t grow without bound). Unless ``policy.learn_last_std``, the last σ stays at
  ``fastdpm.LAST_STEP_STD``."""
  rho = params["log_std"][t]
  if policy.std_max > 0:
    learned = policy.std_max * jax.nn.sigmoid(rho - jnp.log(policy.std_max))
  else:
    learned = jnp.exp(rho)
  if policy.learn_last_std:
    return learned
  return jnp.where(t == policy.num_steps - 1, fastdpm.LAST_STEP_STD, learned)


def policy_mean(policy: Policy, params: dict, x: jax.Array, t: jax.Array) -> jax.Array:
  """μ_φ(x_t, t) for a batch x (B, D) at sampling steps t (B,)."""
  eps = policy.eps_fn(params["net"], x, policy.timesteps[t])
  return policy.x_coef[t][:, None] * x + policy.eps_coef[t][:, None] * eps


def sample_trajectory(policy: Policy, params: dict, key: jax.Array, num: int,
                      guidance: Guidance | None = None) -> jax.Array:
  """x_0 … x_S, shape (S + 1, num, D), from x_0 ~ N(0, I), in one ``lax.scan``.

  ``guidance(x, t)``, if given, is added to each new state x_{t+1} (value guidance, below).
  The trajectories are split over the devices (``num`` must divide by their count).
  """
  init_key, step_key = jax.random.split(key)
  x0 = parallel.shard_batch(jax.random.normal(init_key, (num, policy.dim)),
                            "the number of trajectories")

  def one_step(x, inputs):
    t, k = inputs
    steps = jnp.full((num,), t)
    x_next = (policy_mean(policy, params, x, steps)
              + step_std(policy, params, steps)[:, None] * jax.random.normal(k, x.shape))
    if guidance is not None:
      x_next = x_next + guidance(x_next, steps)
    return x_next, x_next

  keys = jax.random.split(step_key, policy.num_steps)
  _, xs = jax.lax.scan(one_step, x0, (jnp.arange(policy.num_steps), keys))
  return jnp.concatenate([x0[None], xs], axis=0)


def final_states(policy: Policy, params: dict, key: jax.Array, num: int,
                 guidance: Guidance | None = None) -> jax.Array:
  """x_S of ``num`` trajectories, shape (num, D), whole on every device.

  The trajectories are split over the devices: ``num`` is rounded up to a multiple of their
  count and the first ``num`` kept, the same states as on one device (JAX's partitionable random
  numbers do not depend on how many follow).
  """
  padded = parallel.padded_size(num)
  final = sample_trajectory(policy, params, key, padded, guidance)[-1, :num]
  return parallel.gather(final)


def value_guidance(policy: Policy, value_fn: ValueFn, value_params: PyTree, params: dict,
                   strength: float) -> Guidance:
  """x_{t+1} ← x_{t+1} − λ σ_t ∇V(x_{t+1}, t+1) (Yoon et al. 2024, §5, value-guided sampling)."""
  def guidance(x, steps):
    grad = jax.grad(lambda y: value_fn(value_params, y, steps + 1).sum())(x)
    return -strength * step_std(policy, params, steps)[:, None] * grad
  return guidance

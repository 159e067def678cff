r"""DxMI: a few-step diffusion sampler fine-tuned by maximum-entropy IRL (Yoon et al. 2024).

The sampler π is an S-step Gaussian chain x_0 ~ N(0, I), x_{t+1} ~ N(μ_φ(x_t, t), σ_t² I); its
mean comes from a pretrained ε-network through a FastDPM reduction (``common.fastdpm``) and the
per-step noise σ_t is learned (the last is fixed at 0.001 unless ``learn_last_std``). A value
network V(x, t), whose value at t = S is the energy E(x) (time-independent V for images:
V(x, t) = E(x)), is learned jointly.
One iteration of Algorithm 2 (Yoon et al. 2024, §4 and App. B) on a batch of data:

1. sample a trajectory x_0 … x_S without gradient, and update the adaptive velocity
   regulariser (AVR) s_t² ← m s_t² + (1 − m) mean_d (x_{t+1} − x_t)² (eq. 12);
2. energy step on  mean E(data) − mean E(x_S) + γ (mean E(data)² + mean E(x_S)²)  (eq. 7, with the
   squared-energy regulariser of §4.3);
3. TD steps for t = S−1 … 0 on (sg[V(x_{t+1}, t+1) + c_t] − V(x_t, t))², where c_t is the time
   cost R(t) (plus, for Algorithm 1, the running cost τ₂ ‖x_{t+1} − x_t‖²/(2 s_t² d) − τ₁ log σ_t);
4. one policy step on transitions (x_t, t) drawn from a replay buffer, re-stepped with the
   reparameterised policy x_{t+1} = μ_φ(x_t, t) + σ_t ξ, minimising
   V(x_{t+1}, t+1) + τ₂ mean_d (x_{t+1} − x_t)²/(2 s_t²) − τ₁ log σ_t  (eq. 11; entropy of a
   Gaussian up to a constant, per dimension), with a global gradient-norm clip.

The whole iteration is one pure function ``step(key, state, data) -> (state, info)``.
"""

from typing import Any, Callable, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from common import ddpm
from common import fastdpm
from common import parallel
from common import replay_buffer

PyTree = Any
EpsFn = Callable[[PyTree, jax.Array, jax.Array], jax.Array]  # (params, x (B, D), τ (B,)) -> (B, D)
ValueFn = Callable[[PyTree, jax.Array, jax.Array], jax.Array]  # (params, x (B, D), t (B,)) -> (B,)


class Policy(NamedTuple):
  """The few-step sampler: ε-network and the reduced schedule's constants (float32 arrays).

  ``std_max`` > 0 caps every σ_t softly below it (see ``step_std``); 0 leaves σ_t = exp(log_std)
  unbounded. ``learn_last_std`` learns the last step's σ too (the 2-D toy's Gaussian policy);
  otherwise it stays at ``fastdpm.LAST_STEP_STD`` (the image sampler, issue 5).
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
                      guidance: Callable[[jax.Array, jax.Array], jax.Array] | None = None
                      ) -> jax.Array:
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


def value_guidance(policy: Policy, value_fn: ValueFn, value_params: PyTree, params: dict,
                   strength: float):
  """x_{t+1} ← x_{t+1} − λ σ_t ∇V(x_{t+1}, t+1) (Yoon et al. 2024, §5, value-guided sampling)."""
  def guidance(x, steps):
    grad = jax.grad(lambda y: value_fn(value_params, y, steps + 1).sum())(x)
    return -strength * step_std(policy, params, steps)[:, None] * grad
  return guidance


def time_cost(t: jax.Array, num_steps: int, kind: str, value: float) -> jax.Array:
  """R(t): 'sigmoid' s(−t + S/2) − s(−t − 1 + S/2) (Yoon et al. 2024, App. B), 'linear' a constant
  ``value`` per step, or 'none'."""
  t = t.astype(jnp.float32)
  if kind == "sigmoid":
    centre = num_steps / 2
    return jax.nn.sigmoid(-t + centre) - jax.nn.sigmoid(-t - 1 + centre)
  if kind == "linear":
    return jnp.full_like(t, value)
  if kind == "none":
    return jnp.zeros_like(t)
  raise ValueError(f"unknown time cost {kind!r}; use 'sigmoid', 'linear' or 'none'")


class DxMIConfig(NamedTuple):
  """Hyperparameters of Algorithm 2 (defaults: Yoon et al. 2024, App. B, scaled to 8×8 digits)."""
  tau_entropy: float = 0.1  # τ₁
  tau_velocity: float = 0.01  # τ₂
  gamma: float = 1.0  # squared-energy regulariser
  time_cost: Literal["sigmoid", "linear", "none"] = "sigmoid"
  time_cost_value: float = 0.05  # per step, for time_cost = 'linear'
  avr_momentum: float = 0.99
  running_cost_in_value: bool = False  # Algorithm 1 (2-D): costs inside the TD target
  value_lr: float = 1e-5
  sampler_lr: float = 1e-6
  log_std_lr_multiplier: float = 100.0
  sampler_grad_clip: float = 0.1
  policy_batch: int = 128
  buffer_capacity: int = 128 * 5 * 20


class DxMIState(NamedTuple):
  sampler_params: dict
  value_params: PyTree
  sampler_opt: optax.OptState
  value_opt: optax.OptState
  avr: jax.Array  # (S,) s_t², the running mean squared increment per dimension
  buffer: replay_buffer.ReplayBuffer  # transitions {"x": (D,), "t": ()}


class DxMIInfo(NamedTuple):
  energy_data: jax.Array  # mean E(data)
  energy_sample: jax.Array  # mean E(x_S)
  values: jax.Array  # (S + 1,) mean V(x_t, t) along the fresh trajectory, after the TD steps
  td_loss: jax.Array  # mean over t of the TD losses
  policy_loss: jax.Array
  std: jax.Array  # (S,) σ_t after the update


class DxMI(NamedTuple):
  init: Callable[..., DxMIState]
  step: Callable[[jax.Array, DxMIState, jax.Array], tuple[DxMIState, DxMIInfo]]


def _sampler_optimiser(config: DxMIConfig) -> optax.GradientTransformation:
  """Adam with log σ at ``log_std_lr_multiplier`` × the network's rate, after a global clip."""
  labels = lambda params: {"net": jax.tree.map(lambda _: "net", params["net"]),
                           "log_std": "log_std"}
  return optax.chain(
      optax.clip_by_global_norm(config.sampler_grad_clip),
      optax.multi_transform(
          {"net": optax.adam(config.sampler_lr),
           "log_std": optax.adam(config.sampler_lr * config.log_std_lr_multiplier)},
          labels))


def _mean_sq_increment(x: jax.Array, x_next: jax.Array) -> jax.Array:
  """mean_d (x_{t+1} − x_t)², per row."""
  return jnp.mean((x_next - x) ** 2, axis=-1)


def _step_increments(trajectory: jax.Array) -> jax.Array:
  """mean over the batch and dimensions of (x_{t+1} − x_t)², per step: shape (S,)."""
  return jnp.mean((trajectory[1:] - trajectory[:-1]) ** 2, axis=(1, 2))


def dxmi(policy: Policy, value_fn: ValueFn, config: DxMIConfig = DxMIConfig()) -> DxMI:
  """Builds the DxMI iteration for a policy and a value network (Algorithm 2; Algorithm 1 with
  ``running_cost_in_value``)."""
  num_steps = policy.num_steps
  sampler_tx = _sampler_optimiser(config)
  value_tx = optax.adam(config.value_lr)

  def init(key: jax.Array, sampler_params: dict, value_params: PyTree) -> DxMIState:
    """The AVR starts at the increments of one batch from the initial sampler."""
    trajectory = sample_trajectory(policy, sampler_params, key, config.policy_batch)
    avr = _step_increments(trajectory)
    buffer = replay_buffer.init(
        {"x": jnp.zeros((policy.dim,)), "t": jnp.zeros((), jnp.int32)}, config.buffer_capacity)
    return DxMIState(sampler_params, value_params, sampler_tx.init(sampler_params),
                     value_tx.init(value_params), avr, buffer)

  def running_cost(x, x_next, t, sampler_params, avr):
    return (config.tau_velocity * _mean_sq_increment(x, x_next) / (2 * avr[t])
            - config.tau_entropy * jnp.log(step_std(policy, sampler_params, t)))

  def energy_loss(value_params, data, samples):
    final = jnp.full((data.shape[0],), num_steps)
    e_data = value_fn(value_params, data, final)
    e_sample = value_fn(value_params, samples, jnp.full((samples.shape[0],), num_steps))
    loss = (e_data.mean() - e_sample.mean()
            + config.gamma * (jnp.mean(e_data**2) + jnp.mean(e_sample**2)))
    return loss, (e_data.mean(), e_sample.mean())

  def step(key: jax.Array, state: DxMIState, data: jax.Array) -> tuple[DxMIState, DxMIInfo]:
    chex.assert_rank(data, 2)
    data = parallel.shard_batch(data, "config.batch_size")  # as the trajectories are
    sample_key, buffer_key, noise_key = jax.random.split(key, 3)
    params = state.sampler_params
    trajectory = jax.lax.stop_gradient(
        sample_trajectory(policy, params, sample_key, data.shape[0]))
    batch = data.shape[0]
    increments = _step_increments(trajectory)
    avr = config.avr_momentum * state.avr + (1 - config.avr_momentum) * increments

    # Energy (= value at t = S) step.
    grads, (e_data, e_sample) = jax.grad(energy_loss, has_aux=True)(
        state.value_params, data, trajectory[-1])
    updates, value_opt = value_tx.update(grads, state.value_opt, state.value_params)
    value_params = optax.apply_updates(state.value_params, updates)

    # TD steps, backwards in time, each one Adam step on the value network.
    def td_step(carry, t):
      value_params, value_opt = carry
      steps = jnp.full((batch,), t)
      x, x_next = trajectory[t], trajectory[t + 1]
      target = value_fn(value_params, x_next, steps + 1) + time_cost(
          steps, num_steps, config.time_cost, config.time_cost_value)
      if config.running_cost_in_value:
        target = target + running_cost(x, x_next, steps, params, avr)
      target = jax.lax.stop_gradient(target)
      loss_fn = lambda p: jnp.mean((value_fn(p, x, steps) - target) ** 2)
      loss, grads = jax.value_and_grad(loss_fn)(value_params)
      updates, value_opt = value_tx.update(grads, value_opt, value_params)
      return (optax.apply_updates(value_params, updates), value_opt), loss

    (value_params, value_opt), td_losses = jax.lax.scan(
        td_step, (value_params, value_opt), jnp.arange(num_steps - 1, -1, -1))

    # Policy step on buffered transitions, re-stepped with the reparameterised policy.
    steps_all = jnp.repeat(jnp.arange(num_steps), batch)
    # The buffer is whole on every device; its minibatch is split over them again.
    buffer = replay_buffer.add(state.buffer, parallel.gather(
        {"x": trajectory[:-1].reshape(-1, policy.dim), "t": steps_all}))
    drawn = parallel.shard_batch(replay_buffer.sample(buffer_key, buffer, config.policy_batch),
                                 "config.batch_size")
    noise = jax.random.normal(noise_key, drawn["x"].shape)

    def policy_loss(sampler_params):
      x, t = drawn["x"], drawn["t"]
      x_next = (policy_mean(policy, sampler_params, x, t)
                + step_std(policy, sampler_params, t)[:, None] * noise)
      return jnp.mean(value_fn(value_params, x_next, t + 1)
                      + running_cost(x, x_next, t, sampler_params, avr))

    loss, grads = jax.value_and_grad(policy_loss)(params)
    updates, sampler_opt = sampler_tx.update(grads, state.sampler_opt, params)
    params = optax.apply_updates(params, updates)

    values = jax.vmap(lambda x, t: value_fn(value_params, x, jnp.full((batch,), t)).mean())(
        trajectory, jnp.arange(num_steps + 1))
    info = DxMIInfo(e_data, e_sample, values, td_losses.mean(), loss,
                    step_std(policy, params, jnp.arange(num_steps)))
    return DxMIState(params, value_params, sampler_opt, value_opt, avr, buffer), info

  return DxMI(init, step)

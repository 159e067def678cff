r"""DxMI: a few-step diffusion sampler fine-tuned by maximum-entropy IRL (Yoon et al. 2024).

The sampler π is the S-step Gaussian chain of ``dxmi.policy``. A value network V(x, t), whose
value at t = S is the energy E(x) (time-independent V for images: V(x, t) = E(x)), is learned
jointly. One iteration of Algorithm 2 (Yoon et al. 2024, §4 and App. B) on a batch of data:

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

``dxmi(...)`` returns the ``common.types.Sampler``: ``init(key, sampler_params, value_params)``,
the pure ``step(key, state, data) -> (state, info)`` and ``sample(key, sampler_params, n)``.
"""

from typing import Any, Callable, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from common import types
from common.infra import parallel
from common.training import replay_buffer
from dxmi import policy as policy_lib

PyTree = Any
TimeCost = Literal["sigmoid", "linear", "none"]


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


def sampler_optimizer(learning_rate: float, log_std_lr_multiplier: float = 100.0,
                      grad_clip: float = 0.1) -> optax.GradientTransformation:
  """Adam on the sampler's parameters after a global gradient-norm clip, with log σ at
  ``log_std_lr_multiplier`` × the ε-network's rate (Yoon et al. 2024, App. B: 100×, clip 0.1)."""
  labels = lambda params: {"net": jax.tree.map(lambda _: "net", params["net"]),
                           "log_std": "log_std"}
  return optax.chain(
      optax.clip_by_global_norm(grad_clip),
      optax.multi_transform(
          {"net": optax.adam(learning_rate),
           "log_std": optax.adam(learning_rate * log_std_lr_multiplier)},
          labels))


def _mean_sq_increment(x: jax.Array, x_next: jax.Array) -> jax.Array:
  """mean_d (x_{t+1} − x_t)², per row."""
  return jnp.mean((x_next - x) ** 2, axis=-1)


def _step_increments(trajectory: jax.Array) -> jax.Array:
  """mean over the batch and dimensions of (x_{t+1} − x_t)², per step: shape (S,)."""
  return jnp.mean((trajectory[1:] - trajectory[:-1]) ** 2, axis=(1, 2))


def _optimizer_step(optimizer: optax.GradientTransformation, grads: PyTree,
                    opt_state: optax.OptState, params: PyTree) -> tuple[PyTree, optax.OptState]:
  """One update of ``optimizer``: (new params, new optimiser state)."""
  updates, opt_state = optimizer.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state


class _Costs(NamedTuple):
  """The running cost of a transition (x_t, x_{t+1}) at steps t (eq. 11), and the TD target
  built on V(x_{t+1}, t+1); both also take the sampler's parameters and the AVR s_t²."""
  running: Callable[[jax.Array, jax.Array, jax.Array, dict, jax.Array], jax.Array]
  td_target: Callable[[jax.Array, jax.Array, jax.Array, jax.Array, dict, jax.Array], jax.Array]


def _costs(policy: policy_lib.Policy, tau_entropy: float, tau_velocity: float, kind: TimeCost,
           value: float, running_cost_in_value: bool) -> _Costs:
  """``running(x, x_next, t, sampler_params, avr)`` = τ₂ mean_d (x_{t+1} − x_t)²/(2 s_t²)
  − τ₁ log σ_t; ``td_target(v_next, x, …)`` = V(x_{t+1}, t+1) + R(t) (+ the running cost for
  Algorithm 1)."""

  def running(x, x_next, t, sampler_params, avr):
    return (tau_velocity * _mean_sq_increment(x, x_next) / (2 * avr[t])
            - tau_entropy * jnp.log(policy_lib.step_std(policy, sampler_params, t)))

  def td_target(value_next, x, x_next, t, sampler_params, avr):
    target = value_next + time_cost(t, policy.num_steps, kind, value)
    if running_cost_in_value:
      target = target + running(x, x_next, t, sampler_params, avr)
    return target

  return _Costs(running, td_target)


def _energy_loss(value_fn: policy_lib.ValueFn, gamma: float, num_steps: int, value_params: PyTree,
                 data: jax.Array, samples: jax.Array) -> tuple[jax.Array, tuple]:
  """mean E(data) − mean E(x_S) + γ (mean E(data)² + mean E(x_S)²) (eq. 7, §4.3)."""
  e_data = value_fn(value_params, data, jnp.full((data.shape[0],), num_steps))
  e_sample = value_fn(value_params, samples, jnp.full((samples.shape[0],), num_steps))
  loss = (e_data.mean() - e_sample.mean()
          + gamma * (jnp.mean(e_data**2) + jnp.mean(e_sample**2)))
  return loss, (e_data.mean(), e_sample.mean())


def _td_updates(value_fn: policy_lib.ValueFn, value_tx: optax.GradientTransformation,
                costs: _Costs, trajectory: jax.Array, sampler_params: dict, avr: jax.Array,
                value_params: PyTree, value_opt: optax.OptState):
  """One Adam step per t = S−1 … 0 on (sg[V(x_{t+1}, t+1) + c_t] − V(x_t, t))²; returns
  ((value_params, value_opt), TD losses)."""
  num_steps, batch = trajectory.shape[0] - 1, trajectory.shape[1]

  def td_step(carry, t):
    value_params, value_opt = carry
    steps = jnp.full((batch,), t)
    x, x_next = trajectory[t], trajectory[t + 1]
    target = jax.lax.stop_gradient(costs.td_target(
        value_fn(value_params, x_next, steps + 1), x, x_next, steps, sampler_params, avr))
    loss_fn = lambda p: jnp.mean((value_fn(p, x, steps) - target) ** 2)
    loss, grads = jax.value_and_grad(loss_fn)(value_params)
    return _optimizer_step(value_tx, grads, value_opt, value_params), loss

  return jax.lax.scan(td_step, (value_params, value_opt), jnp.arange(num_steps - 1, -1, -1))


def _policy_loss(policy: policy_lib.Policy, value_fn: policy_lib.ValueFn, costs: _Costs,
                 value_params: PyTree, avr: jax.Array, drawn: dict, noise: jax.Array,
                 sampler_params: dict) -> jax.Array:
  """mean V(x_{t+1}, t+1) + running cost over buffered (x_t, t), x_{t+1} = μ_φ(x_t, t) + σ_t ξ."""
  x, t = drawn["x"], drawn["t"]
  x_next = (policy_lib.policy_mean(policy, sampler_params, x, t)
            + policy_lib.step_std(policy, sampler_params, t)[:, None] * noise)
  return jnp.mean(value_fn(value_params, x_next, t + 1)
                  + costs.running(x, x_next, t, sampler_params, avr))


def _add_transitions(buffer: replay_buffer.ReplayBuffer, trajectory: jax.Array,
                     policy: policy_lib.Policy) -> replay_buffer.ReplayBuffer:
  """The trajectory's (x_t, t), t < S, into the buffer, which is whole on every device."""
  return replay_buffer.add(buffer, parallel.gather(
      {"x": trajectory[:-1].reshape(-1, policy.dim),
       "t": jnp.repeat(jnp.arange(policy.num_steps), trajectory.shape[1])}))


def dxmi(*, policy: policy_lib.Policy, value_fn: policy_lib.ValueFn,
         sampler_optimizer: optax.GradientTransformation,
         value_optimizer: optax.GradientTransformation, tau_entropy: float = 0.1,
         tau_velocity: float = 0.01, gamma: float = 1.0, time_cost: TimeCost = "sigmoid",
         time_cost_value: float = 0.05, avr_momentum: float = 0.99,
         running_cost_in_value: bool = False, policy_batch: int = 128,
         buffer_capacity: int = 128 * 5 * 20) -> types.Sampler:
  """The DxMI iteration (Algorithm 2; Algorithm 1 with ``running_cost_in_value``).

  Args:
    policy: the few-step sampler (``dxmi.policy.make_policy``).
    value_fn: V(params, x (B, D), t (B,)) -> (B,); V(·, S) is the energy.
    sampler_optimizer: for the sampler's parameters (``dxmi.algorithm.sampler_optimizer``).
    value_optimizer: for the value network's (the paper: Adam, one step per update).
    tau_entropy: τ₁, weight of the entropy bonus −log σ_t.
    tau_velocity: τ₂, weight of the AVR-scaled squared increment.
    gamma: γ of the squared-energy regulariser.
    time_cost: R(t): 'sigmoid', 'linear' or 'none' (the module's ``time_cost``).
    time_cost_value: the 'linear' time cost per step.
    avr_momentum: m of the AVR's running mean (eq. 12).
    running_cost_in_value: Algorithm 1 (2-D): the running cost inside the TD target.
    policy_batch: transitions per policy step (and trajectories for the initial AVR).
    buffer_capacity: transitions the replay buffer holds.

  Returns:
    ``common.types.Sampler``: ``init(key, sampler_params, value_params) -> DxMIState``,
    ``step(key, state, data (B, D)) -> (DxMIState, DxMIInfo)``, ``sample(key, sampler_params, n)``.
  """
  if time_cost not in ("sigmoid", "linear", "none"):
    raise ValueError(f"unknown time cost {time_cost!r}; use 'sigmoid', 'linear' or 'none'")
  costs = _costs(policy, tau_entropy, tau_velocity, time_cost, time_cost_value,
                 running_cost_in_value)
  energy_grad = jax.grad(
      lambda params, data, samples: _energy_loss(value_fn, gamma, policy.num_steps, params, data,
                                                 samples), has_aux=True)

  def init(key: jax.Array, sampler_params: dict, value_params: PyTree) -> DxMIState:
    """The AVR starts at the increments of one batch from the initial sampler."""
    trajectory = policy_lib.sample_trajectory(policy, sampler_params, key, policy_batch)
    buffer = replay_buffer.init(
        {"x": jnp.zeros((policy.dim,)), "t": jnp.zeros((), jnp.int32)}, buffer_capacity)
    return DxMIState(sampler_params, value_params, sampler_optimizer.init(sampler_params),
                     value_optimizer.init(value_params), _step_increments(trajectory), buffer)

  def step(key: jax.Array, state: DxMIState, data: jax.Array) -> tuple[DxMIState, DxMIInfo]:
    chex.assert_shape(data, (None, policy.dim))
    data = parallel.shard_batch(data, "the data batch")  # as the trajectories are
    sample_key, buffer_key, noise_key = jax.random.split(key, 3)
    params, batch = state.sampler_params, data.shape[0]
    trajectory = jax.lax.stop_gradient(
        policy_lib.sample_trajectory(policy, params, sample_key, batch))
    avr = avr_momentum * state.avr + (1 - avr_momentum) * _step_increments(trajectory)

    # The energy (= value at t = S) step, then the TD steps backwards in time.
    grads, (e_data, e_sample) = energy_grad(state.value_params, data, trajectory[-1])
    value_params, value_opt = _optimizer_step(value_optimizer, grads, state.value_opt,
                                              state.value_params)
    (value_params, value_opt), td_losses = _td_updates(
        value_fn, value_optimizer, costs, trajectory, params, avr, value_params, value_opt)

    # The policy step on buffered transitions; their minibatch is split over the devices again.
    buffer = _add_transitions(state.buffer, trajectory, policy)
    drawn = parallel.shard_batch(replay_buffer.sample(buffer_key, buffer, policy_batch),
                                 "the policy batch")
    noise = jax.random.normal(noise_key, drawn["x"].shape)
    loss, grads = jax.value_and_grad(lambda p: _policy_loss(
        policy, value_fn, costs, value_params, avr, drawn, noise, p))(params)
    params, sampler_opt = _optimizer_step(sampler_optimizer, grads, state.sampler_opt, params)

    values = jax.vmap(lambda x, t: value_fn(value_params, x, jnp.full((batch,), t)).mean())(
        trajectory, jnp.arange(policy.num_steps + 1))
    info = DxMIInfo(e_data, e_sample, values, td_losses.mean(), loss,
                    policy_lib.step_std(policy, params, jnp.arange(policy.num_steps)))
    return DxMIState(params, value_params, sampler_opt, value_opt, avr, buffer), info

  def sample(key: jax.Array, sampler_params: dict, num: int) -> jax.Array:
    return policy_lib.final_states(policy, sampler_params, key, num)

  return types.Sampler(init, step, sample)

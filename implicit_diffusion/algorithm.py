"""Implicit Diffusion, single loop, on the hexagonal mixture of Marion et al. (2024), §5.1.

The sampler is overdamped Langevin on the potential

    V(x, θ) = −log Σᵢ softmax(θ)ᵢ exp(−‖x − cᵢ‖² / 2),   cᵢ on a hexagon of radius 4,

whose stationary law π_θ is the mixture Σᵢ softmax(θ)ᵢ N(cᵢ, I). The parameters θ ∈ R⁶ are
trained to maximise E_{π_θ}[r], through the stationary law: for a Gibbs law π_θ ∝ exp(−V),

    ∇_θ E_{π_θ}[r] = E[r] E[∇_θV] − E[r ∇_θV]   (= −Cov_{π_θ}(r, ∇_θV)),

and, for a reference law ρ,  ∇_θ KL(ρ ‖ π_θ) = E_ρ[∇_θV] − E_{π_θ}[∇_θV]. The single loop
interleaves one Langevin step on the particles with one gradient step on θ evaluated on them:

    x ← x − γ ∇ₓV(x, θ_t) + √(2γ) ξ,
    θ_{t+1} = θ_t + η (ĝ_reward − λ ĝ_KL),

with ĝ the plug-in estimates on the new particles and on ``bs_ref`` fresh reference draws.
Since ∇_θV = softmax(θ) − w(x) (w the responsibilities) sums to zero, Σθ is conserved.

Key schedule (that of the published code, so seed 0 reproduces it number for number): a seed key
is split in three, ``[0]`` continues the chain and ``[1]`` draws the initial particles; every
step's key is split in three likewise, ``[0]`` becoming the next step's key (``next_key``),
``[1]`` driving the Langevin noise and ``[2]`` the reference draw. This chain, not the
training driver's ``fold_in(key, step)`` (``common.training.driver``), is why the particle run
has its own compiled loop (``make_runner``, on ``common.training.loops``).
"""

from typing import Callable, NamedTuple, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from common import types
from common.evaluation import quadrature
from common.infra import parallel
from common.kernels import sde
from common.targets import energies
from common.training import loops

NUM_COMPONENTS = 6
DIM = 2
CENTRES = energies.hexagon_means(radius=4.0, num=NUM_COMPONENTS)
RewardFn = Callable[[jax.Array], jax.Array]


def potential(x: jax.Array, theta: jax.Array) -> jax.Array:
  """``V(x, θ)`` for one point ``x`` of shape (2,); θ holds the 6 mixture logits."""
  return energies.isotropic_mixture_energy(x, theta, CENTRES, 1.0)


# ∇_θV(xₙ, θ) for a batch (N, 2) -> (N, 6); equals softmax(θ) − w(xₙ).
theta_gradients = jax.vmap(jax.grad(potential, argnums=1), in_axes=(0, None))


def reward_gradient_estimate(rewards: jax.Array, grads_theta: jax.Array) -> jax.Array:
  """Plug-in ``ĝ = mean(r)·mean(∇_θV) − mean(r ∇_θV)`` of ``∇_θ E_{π_θ}[r]``.

  Args:
    rewards: r(xₙ), shape (N,).
    grads_theta: ∇_θV(xₙ, θ), shape (N, K).
  """
  chex.assert_rank([rewards, grads_theta], [1, 2])
  return jnp.mean(rewards) * jnp.mean(grads_theta, axis=0) - rewards @ grads_theta / rewards.shape[0]


class State(NamedTuple):
  particles: jax.Array  # (bs, 2)
  theta: jax.Array  # (6,)


class Info(NamedTuple):
  reward: jax.Array  # mean reward of the particles after this step's Langevin move
  kl_grad_norm: jax.Array  # ‖ĝ_KL‖
  theta: jax.Array  # θ after this step's update
  exact_reward: jax.Array  # Σᵢ softmax(θ)ᵢ Rᵢ at the updated θ (exact E_{π_θ}[r])


class Draws(NamedTuple):
  """The random numbers of one single-loop step (the step's batch, ``common.types``)."""
  langevin: jax.Array  # (bs, 2) standard normal noise of the Langevin move
  reference: jax.Array  # (bs_ref, 2) reference draws


def sample_stationary(key: jax.Array, theta: jax.Array, n: int) -> jax.Array:
  """``n`` exact draws (n, 2) of π_θ, the mixture Σᵢ softmax(θ)ᵢ N(cᵢ, I)."""
  return energies.sample_isotropic_mixture(key, theta, CENTRES, 1.0, n)


def next_key(key: jax.Array) -> jax.Array:
  """The key of the next step (or, from a seed key, of the first step)."""
  return jax.random.split(key, 3)[0]


def single_loop_draw(
    *, num_particles: int, num_reference: int, theta_init: jax.Array, reference_std: float
) -> Callable[[jax.Array], Draws]:
  """``draw(key) -> Draws``: a single-loop step's random numbers from its key (key schedule of
  the module docstring), so that a compiled loop can draw those of many steps at once."""
  theta_init = jnp.asarray(theta_init, jnp.float32)

  def draw(key: jax.Array) -> Draws:
    _, key_langevin, key_reference = jax.random.split(key, 3)
    return Draws(jax.random.normal(key_langevin, (num_particles, DIM)),
                 energies.sample_isotropic_mixture(key_reference, theta_init, CENTRES,
                                                   reference_std, num_reference))

  return draw


def _nested_chain(key: jax.Array, particles: jax.Array, theta: jax.Array, step_size: float,
                  inner_steps: int, warm_start: bool) -> jax.Array:
  """The nested loop's particles: ``inner_steps`` ULA steps at θ, from the particles (warm) or
  from fresh N(0, I) draws (cold)."""
  if not warm_start:
    key_init, key = jax.random.split(key)
    particles = jax.random.normal(key_init, particles.shape)
  langevin = sde.ula(potential, step_size)
  chain, _ = jax.lax.scan(lambda s, k: langevin.step(k, s, theta), langevin.init(particles),
                          jax.random.split(key, inner_steps))
  return chain.position


def implicit_diffusion(
    *,
    reward_fn: RewardFn,
    component_rewards: jax.Array,
    theta_init: jax.Array,
    num_particles: int = 1000,
    num_reference: int = 1,
    step_size: float = 0.2,
    learning_rate: float = 0.1,
    kl_weight: float = 0.0,
    reference_std: float = 2.0,
    inner_steps: int = 1,
    warm_start: bool = True,
) -> types.Sampler:
  """The single-loop algorithm (``inner_steps=1``, warm) or the nested-loop baseline.

  Args:
    reward_fn: r(x) for one point (never differentiated).
    component_rewards: Rᵢ = E_{N(cᵢ, I)}[r], shape (6,), for the exact reward in ``Info``.
    theta_init: θ₀, shape (6,); also the logits of the reference mixture.
    num_particles: N, the Langevin particles.
    num_reference: fresh reference draws per step for ĝ_KL.
    step_size: Langevin step γ.
    learning_rate: η.
    kl_weight: λ ≥ 0; regularises towards the reference (the published code adds +λ ĝ_KL).
    reference_std: per-component std of the reference mixture Σᵢ softmax(θ₀)ᵢ N(cᵢ, s² I).
    inner_steps: T Langevin steps per θ update (T = 1 is the single loop).
    warm_start: nested loop only; False restarts the particles from N(0, I) before every update.

  Returns:
    ``Sampler(init, step, sample)``: ``init(seed_key) -> State``; ``step(key, state, *draws)
    -> (State, Info)``, where the single loop takes its ``Draws`` (those of
    ``single_loop_draw``) instead of drawing them from ``key`` when given; ``sample(key, θ, n)``
    draws n points of π_θ, the mixture itself.
  """
  theta_init = jnp.asarray(theta_init, jnp.float32)
  component_rewards = jnp.asarray(component_rewards, jnp.float32)
  chex.assert_shape([theta_init, component_rewards], (NUM_COMPONENTS,))
  single_loop = inner_steps == 1 and warm_start
  draw = single_loop_draw(num_particles=num_particles, num_reference=num_reference,
                          theta_init=theta_init, reference_std=reference_std)
  batch_reward = jax.vmap(reward_fn)

  def init(seed_key: jax.Array) -> State:
    particle_key = jax.random.split(seed_key, 3)[1]
    particles = jax.random.normal(particle_key, (num_particles, DIM))
    return State(parallel.shard_batch(particles, "the particles"), theta_init)

  def theta_step(particles: jax.Array, reference: jax.Array,
                 theta: jax.Array) -> tuple[State, Info]:
    # The particles are split over the devices; the means of the θ update are all-reduced.
    particles = parallel.shard_batch(particles, "the particles")
    rewards = batch_reward(particles)
    grads = theta_gradients(particles, theta)
    kl_grad = jnp.mean(theta_gradients(reference, theta), axis=0) - jnp.mean(grads, axis=0)
    theta = theta + learning_rate * (reward_gradient_estimate(rewards, grads) - kl_weight * kl_grad)
    info = Info(jnp.mean(rewards), jnp.linalg.norm(kl_grad), theta,
                exact_reward(theta, component_rewards))
    return State(particles, theta), info

  def step(key: jax.Array, state: State, *draws: Draws) -> tuple[State, Info]:
    if single_loop:
      (numbers,) = draws or (draw(key),)
      particles = sde.ula_move(potential, step_size, state.particles, numbers.langevin,
                               state.theta)
      return theta_step(particles, numbers.reference, state.theta)
    if draws:
      raise ValueError("the nested loop draws its own random numbers; pass none")
    particles = _nested_chain(jax.random.split(key, 3)[1], state.particles, state.theta,
                              step_size, inner_steps, warm_start)
    # The reference draws of the step's key, as the single loop's (the unused noise is
    # compiled away).
    return theta_step(particles, draw(key).reference, state.theta)

  return types.Sampler(init, step, sample_stationary)


def chain_step(algorithm: types.Sampler) -> Callable:
  """The loop body on ``(key, state)`` carries, following the published key schedule."""

  def body(carry):
    key, state = carry
    state, info = algorithm.step(key, state)
    return (next_key(key), state), info

  return body


def initial_carry(algorithm: types.Sampler, seed_key: jax.Array) -> tuple[jax.Array, State]:
  return next_key(seed_key), algorithm.init(seed_key)


# Steps whose random numbers ``make_runner`` draws at once (at most; the block divides the
# chunk): each threefry draw is a small XLA loop (five rounds) whose every iteration costs a
# fixed few microseconds on CPU, far more than its arithmetic on 1000 particles; drawn for a
# block of steps at once it runs once per block. Memory: DRAW_BLOCK × (bs + bs_ref) × 2 floats.
DRAW_BLOCK = 32


def _advance_one_seed(algorithm: types.Sampler, draw: Callable[[jax.Array], Draws],
                      block: int) -> Callable:
  """``advance((key, state), length)`` of one seed; the numbers of ``chain_step``'s loop."""

  def run_block(carry, length):
    key, state = carry
    key, keys = jax.lax.scan(lambda k, _: (next_key(k), k), key, None, length=length)
    state, info = jax.lax.scan(lambda s, draws: algorithm.step(None, s, draws), state,
                               jax.vmap(draw)(keys))
    return (key, state), info

  def advance(carry, length):
    # The largest block dividing the length: one block body to compile (a remainder block
    # would double the compilation time).
    size = max(d for d in range(1, min(block, length) + 1) if length % d == 0)
    carry, info = jax.lax.scan(lambda c, _: run_block(c, size), carry, None,
                               length=length // size)
    return carry, jax.tree.map(lambda leaf: leaf.reshape((length,) + leaf.shape[2:]), info)

  return advance


def make_runner(algorithm: types.Sampler, num_seeds: int,
                draw: Callable[[jax.Array], Draws] | None = None) -> tuple[Callable, Callable]:
  """``(init, advance)`` for ``num_seeds`` independent runs; outputs carry a seed axis.

  The loop keeps the published key chain (module docstring) in its carry ``(key, state)``
  rather than the driver's ``fold_in(key, step)``: seed 0 then reproduces the published run
  number for number. ``init(seeds)`` maps an int array (num_seeds,) to the loop carry;
  ``advance(carry, length)`` (jitted, ``length`` static) runs ``length`` steps and returns Info
  stacked as (length, num_seeds, ...). Several seeds are vmapped; a single seed is not, because
  the unbatched loop compiles about twice as fast on CPU. Given the single loop's ``draw``
  (``single_loop_draw``), the random numbers are drawn up to ``DRAW_BLOCK`` steps at a time:
  the draws of the step-by-step loop, the floats equal up to rounding, 1.7× less CPU time per
  step; without it (the nested loop) the steps draw their own.
  """
  body = chain_step(algorithm)
  if num_seeds == 1:
    def init(seeds):
      return initial_carry(algorithm, jax.random.key(seeds[0]))

    def step(carry):
      carry, info = body(carry)
      return carry, jax.tree.map(lambda leaf: leaf[None], info)
  else:
    def init(seeds):
      return jax.vmap(lambda seed: initial_carry(algorithm, jax.random.key(seed)))(seeds)

    step = jax.vmap(body)
  if draw is None:
    return loops.jit_run_once(init), loops.make_chunk_runner(step)
  advance_one = _advance_one_seed(algorithm, draw, DRAW_BLOCK)

  def advance(carry, length):
    if num_seeds == 1:
      carry, info = advance_one(carry, length)
      return carry, jax.tree.map(lambda leaf: leaf[:, None], info)
    carry, info = jax.vmap(lambda c: advance_one(c, length))(carry)
    return carry, jax.tree.map(lambda leaf: jnp.moveaxis(leaf, 0, 1), info)

  return loops.jit_run_once(init), jax.jit(advance, static_argnums=1)


def run(
    algorithm: types.Sampler,
    seeds: Sequence[int],
    num_steps: int,
    chunk_size: int,
    on_chunk: Callable[[int, Info], None] | None = None,
    draw: Callable[[jax.Array], Draws] | None = None,
) -> tuple[State, State, Info]:
  """Runs ``num_steps`` steps from each seed's key ``jax.random.key(seed)`` (``make_runner``).

  Returns:
    The initial and final ``State`` as NumPy arrays with a leading seed axis, and ``Info`` as
    NumPy arrays of shape (num_steps, num_seeds, ...). ``on_chunk(steps_done, info_chunk)``
    reports progress.
  """
  init, advance = make_runner(algorithm, len(seeds), draw)
  carry = init(jnp.asarray(seeds))
  initial = parallel.to_host(carry[1])
  (_, final), infos = loops.scan_in_chunks(advance, carry, num_steps, chunk_size, on_chunk)
  final = parallel.to_host(final)
  if len(seeds) == 1:
    initial, final = jax.tree.map(lambda leaf: np.asarray(leaf)[None], (initial, final))
  return initial, final, infos


# --------------------------------------------------------------------------------------------
# Exact quantities, by quadrature.


def component_rewards(
    reward_fn: RewardFn, spacing: float = 0.05, half_width: float = 13.0
) -> np.ndarray:
  """``Rᵢ = E_{N(cᵢ, I)}[r]`` for the 6 components, midpoint quadrature in float64.

  The grid's cell edges lie on x₀ = 0, where the hard reward jumps, so the error is second
  order: with spacing 0.05 the values agree with the closed form (erf) of the hard reward to
  3e-6 (spacing 0.1: 1e-5).
  """
  grid = quadrature.midpoint_grid(half_width, spacing)
  rewards = np.asarray(loops.jit_run_once(jax.vmap(reward_fn))(
      jnp.asarray(grid.points, jnp.float32)), np.float64)
  centres = np.asarray(CENTRES, np.float64)
  return np.array([rewards @ quadrature.gaussian_weights(grid, c, 1.0) for c in centres])


def mixture_weights(theta: np.ndarray) -> np.ndarray:
  """softmax(θ) along the last axis, on the host (NumPy): for reports, no compilation."""
  theta = np.asarray(theta, np.float64)
  weights = np.exp(theta - theta.max(axis=-1, keepdims=True))
  return weights / weights.sum(axis=-1, keepdims=True)


def exact_reward(theta: jax.Array, rewards_per_component: jax.Array) -> jax.Array:
  """``E_{π_θ}[r] = Σᵢ softmax(θ)ᵢ Rᵢ`` (π_θ is exactly the mixture)."""
  return jax.nn.softmax(theta, axis=-1) @ rewards_per_component


class FlowInfo(NamedTuple):
  exact_reward: jax.Array
  kl_grad_norm: jax.Array
  theta: jax.Array


def exact_gradient_flow(
    *,
    component_rewards: jax.Array,
    theta_init: jax.Array,
    learning_rate: float,
    kl_weight: float,
    reference_std: float,
    spacing: float = 0.25,
) -> types.Sampler:
  """The exact (regularised) gradient flow, the ground truth of the particle run.

      θ ← θ + η ∇_θ [ Σᵢ softmax(θ)ᵢ Rᵢ − λ KL(ρ ‖ π_θ) ],

  where ∂/∂θⱼ Σᵢ vᵢRᵢ = vⱼ(Rⱼ − Σᵢ vᵢRᵢ) and ∇_θ KL(ρ ‖ π_θ) = E_ρ[∇_θV] (E_{π_θ}[∇_θV] = 0
  exactly). E_ρ is a midpoint quadrature on a grid pruned to where ρ has mass; spacing 0.25
  agrees with spacing 0.05 to 1e-5 on ∇_θ KL, with 30× fewer points. The arguments are those
  of ``implicit_diffusion``; ``spacing`` is the quadrature's.

  Returns:
    ``Sampler(init, step, sample)``: ``init(key) -> θ₀``, ``step(key, θ) -> (θ, FlowInfo)``
    (the flow is deterministic: the keys are unused), ``sample(key, θ, n)`` draws π_θ.
  """
  theta_init = jnp.asarray(theta_init, jnp.float32)
  component_rewards = jnp.asarray(component_rewards, jnp.float32)
  grid = quadrature.midpoint_grid(4.0 + 10.0 * reference_std, spacing)
  weights = quadrature.mixture_weights(
      grid, np.asarray(jax.nn.softmax(theta_init)), np.asarray(CENTRES, np.float64),
      reference_std)
  keep = weights > 1e-12 * weights.max()
  points = jnp.asarray(grid.points[keep], jnp.float32)
  weights = jnp.asarray(weights[keep] / weights[keep].sum(), jnp.float32)

  def cross_entropy(theta):  # E_ρ[V(·, θ)] = KL(ρ ‖ π_θ) + const
    return weights @ jax.vmap(potential, in_axes=(0, None))(points, theta)

  def init(key: jax.Array) -> jax.Array:
    del key  # deterministic
    return theta_init

  def step(key: jax.Array, theta: jax.Array) -> tuple[jax.Array, FlowInfo]:
    del key  # deterministic
    reward_grad = jax.grad(exact_reward)(theta, component_rewards)
    kl_grad = jax.grad(cross_entropy)(theta)
    theta = theta + learning_rate * (reward_grad - kl_weight * kl_grad)
    return theta, FlowInfo(exact_reward(theta, component_rewards),
                           jnp.linalg.norm(kl_grad), theta)

  return types.Sampler(init, step, sample_stationary)

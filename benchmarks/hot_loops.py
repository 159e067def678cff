"""The hot loop of each method, compiled as the library runs it and dispatched step by step.

Each ``case(sizes, variant)`` returns a ``Workload``: ``run(carry) -> carry`` does one timed
repetition and blocks until its results are ready; ``work`` counts the units of the
throughput (particle-steps, path-steps, samples, iterations) done by one repetition.

``variant="scan"`` is the library's own compiled loop: ``lax.scan`` inside ``jit``, in chunks
where the library chunks. ``variant="dispatch"`` is the straightforward way, as the published
JAX code of Implicit Diffusion does it: a Python loop calling the library's jitted single step
once per step, keeping each step's outputs on the device. Both variants use the library's
functions (nothing is re-implemented here) and compute the same numbers, equal up to float
rounding (the dispatched Euler–Maruyama drift is σ·(σ·f), the library's σ²·f).
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import controlled_sde
from adjoint import schedules
from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import models as digit_models
from common.kernels import sde
from common.networks import mlp as networks
from common.networks import residual_mlp
from common.targets import benchmarks as targets_lib
from common.training import loops
from configs import adjoint as adjoint_config
from configs import asbs as asbs_config
from configs import dikl_mog
from configs import dxmi_toy2d
from configs import implicit_diffusion as implicit_diffusion_config
from configs import reward_guidance as reward_guidance_config
from dikl import dikl
from dikl import posterior
from dikl import presets as dikl_presets
from dxmi import entry as dxmi_entry
from dxmi import fastdpm
from dxmi import policy as dxmi_policy
from implicit_diffusion import algorithm as id_algorithm
from implicit_diffusion import reward as id_reward
from reward_guidance import guidance
from reward_guidance import predictor

VARIANTS = ("scan", "dispatch")


class Workload(NamedTuple):
  run: Callable[[Any], Any]  # one repetition: carry -> carry, blocking
  carry: Any
  work: float  # throughput units per repetition
  size: str  # the sizes, in words


class Case(NamedTuple):
  title: str
  unit: str  # of the throughput
  step: str  # what the dispatch variant dispatches once per Python iteration
  build: Callable[[dict, str], Workload]


def _dispatch_loop(step: Callable[[Any], tuple[Any, Any]], num_steps: int):
  """``run(carry)``: ``num_steps`` calls of the jitted ``step``, outputs kept in a list."""

  def run(carry):
    log = []
    for _ in range(num_steps):
      carry, out = step(carry)
      log.append(out)
    jax.block_until_ready((carry, log))
    return carry

  return run


def _chunked(step: Callable[[Any], tuple[Any, Any]], num_steps: int, chunk: int):
  """``run(carry)``: ``num_steps`` steps by ``common.training.loops.scan_in_chunks`` (outputs to host)."""
  advance = loops.make_chunk_runner(step)

  def run(carry):
    carry, _ = loops.scan_in_chunks(advance, carry, num_steps, min(chunk, num_steps))
    return jax.block_until_ready(carry)

  return run


# ------------------------------------------------------------------------------------------
# Implicit Diffusion: the single loop (one Langevin step and one θ step per iteration).


def implicit_diffusion(sizes: dict, variant: str) -> Workload:
  config = implicit_diffusion_config.get_config()
  hyperparameters = dict(num_particles=sizes["particles"], num_reference=config.bs_ref,
                         theta_init=np.asarray(config.theta_init, np.float32),
                         reference_std=config.ref_std)
  algorithm = id_algorithm.implicit_diffusion(
      reward_fn=id_reward.hard_reward,
      component_rewards=id_algorithm.component_rewards(id_reward.hard_reward),
      step_size=config.gamma, learning_rate=config.eta, kl_weight=config.lamb_kl,
      **hyperparameters)
  steps = sizes["langevin_steps"]
  size = f"{sizes['particles']} particles × {steps} steps"
  work = float(sizes["particles"] * steps)
  if variant == "scan":  # as implicit_diffusion.main runs it
    init, advance = id_algorithm.make_runner(algorithm, 1,
                                             id_algorithm.single_loop_draw(**hyperparameters))

    def run(carry):
      carry, _ = loops.scan_in_chunks(advance, carry, steps, min(config.print_every, steps))
      return jax.block_until_ready(carry)

    return Workload(run, init(jnp.zeros((1,), jnp.int32)), work, size)
  step = jax.jit(id_algorithm.chain_step(algorithm))
  return Workload(_dispatch_loop(step, steps),
                  id_algorithm.initial_carry(algorithm, jax.random.key(0)), work, size)


# ------------------------------------------------------------------------------------------
# Adjoint Sampling / ASBS: Euler–Maruyama simulation of the controlled SDE.


def _euler_maruyama(sizes: dict, variant: str, config, x0: jax.Array) -> Workload:
  schedule = schedules.GeometricSchedule(config.sigma_min, config.sigma_max)
  network = adjoint_sampling.control_network(
      dim=x0.shape[1], hidden_sizes=config.hidden_sizes, num_frequencies=config.num_frequencies,
      activation=config.activation)
  params = network.init(jax.random.key(0), jnp.zeros(()), x0[:1])
  num_steps, repeats = config.num_steps, sizes["em_batches"]
  size = (f"{x0.shape[0]} paths × {num_steps} steps × {repeats} batches, "
          f"MLP {tuple(config.hidden_sizes)}")
  work = float(x0.shape[0] * num_steps * repeats)
  if variant == "scan":
    simulate = jax.jit(controlled_sde.simulate, static_argnums=(1, 5))

    def run(key):
      for _ in range(repeats):
        key, key_paths = jax.random.split(key)
        x1 = simulate(key_paths, network.apply, params, schedule, x0, num_steps)
      jax.block_until_ready(x1)
      return key

    return Workload(run, jax.random.key(1), work, size)

  # The same SDE, dX = σ(t) u_θ(t, X) dt + σ(t) dW, and the same Brownian increments, advanced
  # by ``sde.solve_sde`` one grid interval per call.
  def drift(t, x, params):
    return schedule.sigma(t) * controlled_sde.control(network.apply, params, schedule, t, x)

  def diffusion(t, unused_x, unused_params):
    return schedule.sigma(t)

  grid = controlled_sde.time_grid(num_steps, x0.dtype)
  increments = jax.jit(sde.brownian_increments, static_argnums=2)

  @jax.jit
  def one_step(x, k, dw):
    ts = jax.lax.dynamic_slice_in_dim(grid, k, 2)
    dw_k = jax.lax.dynamic_slice_in_dim(dw, k, 1)
    return sde.solve_sde(drift, diffusion, x, ts, dw_k, params)[0]

  def run(key):
    for _ in range(repeats):
      key, key_paths = jax.random.split(key)
      dw = increments(key_paths, grid, x0.shape)
      x = x0
      for k in range(num_steps):
        x = one_step(x, k, dw)
    jax.block_until_ready(x)
    return key

  return Workload(run, jax.random.key(1), work, size)


def adjoint_sampling_paths(sizes: dict, variant: str) -> Workload:
  """Adjoint Sampling's default GMM configuration: X₀ = 0."""
  config = adjoint_config.get_config()
  config.num_steps = sizes["em_steps"]
  x0 = adjoint_sampling.dirac_prior(2)(None, sizes["paths"])
  return _euler_maruyama(sizes, variant, config, x0)


def asbs_paths(sizes: dict, variant: str) -> Workload:
  """ASBS's default configuration: X₀ from its Gaussian prior."""
  config = asbs_config.get_config()
  config.num_steps = sizes["em_steps"]
  prior = asbs_training.make_prior(config.prior, dim=2, mean=config.prior_mean,
                                   variances=config.prior_variances)
  x0 = prior(jax.random.key(2), sizes["paths"])
  return _euler_maruyama(sizes, variant, config, x0)


# ------------------------------------------------------------------------------------------
# DiKL (MoG-40, quick preset): posterior sampling of the target's noisy score, and training.


def _dikl_setup():
  config = dikl_mog.get_config("quick")
  return config, targets_lib.get_target("mog")


def dikl_posterior(sizes: dict, variant: str) -> Workload:
  """ŝ_d(x_t) for a batch of noisy points: importance sampling then MALA (``noisy_score``)."""
  config, target = _dikl_setup()
  levels = dikl.vp_levels(config.beta_start, config.beta_end, config.num_levels)
  post = posterior.PosteriorConfig(num_importance=config.num_importance,
                                   num_chains=config.num_posterior_samples,
                                   mala_steps=config.mala_steps)
  batch = sizes["posterior_batch"]
  key_level, key_x, key_noise, key_run = jax.random.split(jax.random.key(3), 4)
  level = jax.random.randint(key_level, (batch,), 0, levels.alpha.shape[0])
  alpha, sigma = levels.alpha[level], levels.sigma[level]
  x_t = alpha[:, None] * target.sample(key_x, batch) + sigma[:, None] * jax.random.normal(
      key_noise, (batch, target.dim))
  score_one = lambda k, x, a, s: posterior.noisy_score(k, target.energy, x, a, s, post)
  size = (f"{batch} noisy points × {post.num_chains} chain, {post.num_importance} proposals, "
          f"{post.mala_steps} MALA steps")
  work = float(batch * post.num_chains)
  if variant == "scan":
    scores = jax.jit(jax.vmap(score_one))

    def run(key):
      key, key_batch = jax.random.split(key)
      jax.block_until_ready(scores(jax.random.split(key_batch, batch), x_t, alpha, sigma))
      return key

    return Workload(run, key_run, work, size)
  score_at = jax.jit(lambda keys, i: score_one(keys[i], x_t[i], alpha[i], sigma[i]))

  def run(key):
    key, key_batch = jax.random.split(key)
    keys = jax.random.split(key_batch, batch)
    jax.block_until_ready([score_at(keys, i) for i in range(batch)])
    return key

  return Workload(run, key_run, work, size)


def dikl_training(sizes: dict, variant: str) -> Workload:
  """``dikl.train``'s iteration: score-network DSM steps, posterior sampling, generator step."""
  config, target = _dikl_setup()
  sampler = dikl_presets.make_sampler(config, target)
  key_init, key_train = jax.random.split(jax.random.key(config.seed))

  def step(carry):  # as the training driver runs it
    i, state = carry
    state, info = sampler.step(jax.random.fold_in(key_train, i), state)
    return (i + 1, state), info

  iterations = sizes["dikl_iterations"]
  size = (f"{iterations} iterations, batch {config.batch_size}, {config.score_steps} score "
          f"steps, MLPs {config.generator_layers}×{config.generator_hidden}")
  run = (_chunked(step, iterations, config.chunk_size) if variant == "scan"
         else _dispatch_loop(jax.jit(step), iterations))
  return Workload(run, (jnp.zeros((), jnp.int32), sampler.init(key_init)), float(iterations),
                  size)


# ------------------------------------------------------------------------------------------
# DxMI (2-D toy, Algorithm 1) from the FastDPM reduction of a (here untrained) ε-network.


def dxmi_iterations(sizes: dict, variant: str) -> Workload:
  config = dxmi_toy2d.get_config()
  keys = jax.random.split(jax.random.key(config.seed), 4)
  eps_net = residual_mlp.ResidualMLP(out_dim=2, width=config.width, num_blocks=config.num_blocks,
                                     time_dim=config.time_dim)
  start = fastdpm.var_schedule(config.num_steps, config.spacing)
  policy = dxmi_policy.make_policy(eps_net.apply, start, dim=2)
  value_net = networks.FourierTimeMLP(tuple(config.value_hidden), 1, config.value_frequencies)
  value_fn = lambda p, x, t: value_net.apply(p, t / config.num_steps, x)[..., 0]
  method = dxmi_entry.make_algorithm(config, policy, value_fn, running_cost_in_value=True)
  params = dxmi_policy.init_sampler_params(
      policy, eps_net.init(keys[0], jnp.zeros((1, 2)), jnp.zeros((1,))), start.std)
  state = method.init(keys[1], params,
                      value_net.init(keys[2], jnp.zeros((1,)), jnp.zeros((1, 2))))

  def iteration(carry):  # as the training driver runs it, on random data (speed only)
    i, state = carry
    key_batch, key_step = jax.random.split(jax.random.fold_in(keys[3], i))
    state, info = method.step(key_step, state, jax.random.normal(key_batch,
                                                                 (config.batch_size, 2)))
    return (i + 1, state), info

  iterations = sizes["dxmi_iterations"]
  size = (f"{iterations} iterations, batch {config.batch_size}, {config.num_steps} sampler "
          f"steps, ε-MLP {config.num_blocks}×{config.width}")
  run = (_chunked(iteration, iterations, config.chunk_size) if variant == "scan"
         else _dispatch_loop(jax.jit(iteration), iterations))
  return Workload(run, (jnp.zeros((), jnp.int32), state), float(iterations), size)


# ------------------------------------------------------------------------------------------
# Reward-directed guided DDIM on digits (untrained networks of the published sizes).


def guided_sampling(sizes: dict, variant: str) -> Workload:
  config = reward_guidance_config.get_config()
  key_eps, key_predictor, key_run = jax.random.split(jax.random.key(4), 3)
  eps_params = digit_models.ddpm_network().init(key_eps, jnp.zeros((1, digits.DIM)),
                                                jnp.zeros((1,)))
  model = predictor.ResConvNet(config.channels, config.num_blocks)
  predictor_params = model.init(key_predictor, jnp.zeros((1, digits.DIM)))
  predict = lambda x: model.apply(predictor_params, x)
  schedule = digit_models.ddpm_schedule()
  timesteps = jnp.asarray(ddpm.ddim_timesteps(config.num_sampling_steps, schedule.num_steps))
  eps_fn = digit_models.eps_fn(eps_params)
  target, strength = jnp.float32(1.0), jnp.float32(10.0)
  num = sizes["guided_images"]
  size = f"{num} images × {config.num_sampling_steps} DDIM steps, predictor gradient each step"
  if variant == "scan":
    draw = jax.jit(lambda x: guidance.sample(eps_fn, predict, schedule, timesteps, x, target,
                                             strength))

    def run(key):
      key, key_init = jax.random.split(key)
      jax.block_until_ready(draw(jax.random.normal(key_init, (num, digits.DIM))))
      return key

    return Workload(run, key_run, float(num), size)
  guided = guidance.guided_eps_fn(eps_fn, predict, schedule, target, strength)
  alpha_bars, alpha_bars_prev = ddpm.ddim_alpha_bars(schedule, timesteps)

  @jax.jit
  def one_step(x, k):
    return ddpm.ddim_step(guided, x, timesteps[k], alpha_bars[k], alpha_bars_prev[k])

  def run(key):
    key, key_init = jax.random.split(key)
    x = jax.random.normal(key_init, (num, digits.DIM))
    for k in range(timesteps.shape[0]):
      x = one_step(x, k)
    jax.block_until_ready(x)
    return key

  return Workload(run, key_run, float(num), size)


CASES = {
    "implicit_diffusion": Case("Implicit Diffusion: Langevin + θ step", "particle-steps/s",
                               "one iteration", implicit_diffusion),
    "adjoint_sampling": Case("Adjoint Sampling: Euler–Maruyama paths", "path-steps/s",
                             "one EM step", adjoint_sampling_paths),
    "asbs": Case("ASBS: Euler–Maruyama paths", "path-steps/s", "one EM step", asbs_paths),
    "dikl_posterior": Case("DiKL: posterior sampling (IS + MALA)", "posterior samples/s",
                           "one noisy point", dikl_posterior),
    "dikl_training": Case("DiKL: training iterations", "iterations/s", "one iteration",
                          dikl_training),
    "dxmi": Case("DxMI: training iterations", "iterations/s", "one iteration",
                 dxmi_iterations),
    "guided": Case("Reward guidance: guided DDIM", "guided samples/s", "one DDIM step",
                   guided_sampling),
}

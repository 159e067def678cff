"""DiKL: a one-step generator trained with the reverse diffusive KL (He et al. 2025).

The generator x = g_θ(z), z ~ N(0, I), is trained to minimise Σ_t KL(q_θ,t ‖ p_t), where q_θ,t and
p_t are the generator's and the target's laws convolved with the VP kernel x_t = α_t x + σ_t ε.
Its gradient (He et al. 2025, eq. 9) is

    ∇_θ KL(q_θ,t ‖ p_t) = E[(∇ log q_θ,t(x_t) − ∇ log p_t(x_t)) · ∂x_t/∂θ],

estimated with a score network s_φ ≈ ∇ log q_θ,t, trained by denoising score matching on generator
samples, and the target's noisy score ŝ_d from posterior sampling (``dikl.posterior``). The
generator minimises the surrogate mean Σ stop_grad(w(t)(s_φ(x_t, t) − ŝ_d(x_t, t))) ⊙ x_t.

One training iteration (``make_trainer``) is ``score_steps`` DSM steps in a ``lax.scan`` and one
generator step, all in one jitted function. The reverse-KL baseline is the same generator trained
with only the smallest noise level (``method="rkl"``).
"""

from typing import Any, Callable, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from common import egnn
from common import energies
from common import networks
from common import parallel
from common import particles
from common import targets as targets_lib
from dikl import posterior

METHODS = ("dikl", "rkl")
# w(t) = α_t^−p by name: "one" (DW, LJ) and "inv_alpha" (MoG, MW) are He et al.'s. With
# "inv_alpha_squared" each level's pull on the generator is the difference of the two denoiser
# means over σ_t², E_q[x | x_t] − E_p[x | x_t], with no factor α_t left to silence the noisy
# levels, which are the ones that see how the mass is shared between distant modes.
WEIGHT_POWERS = {"one": 0, "inv_alpha": 1, "inv_alpha_squared": 2}
ANNEALING_SCHEDULES = ("linear", "geometric")


class Levels(NamedTuple):
  """The noise levels t = 1..L−1 of a VP kernel: x_t = α_t x + σ_t ε."""
  alpha: jax.Array  # (L − 1,)
  sigma: jax.Array  # (L − 1,)


def vp_levels(beta_start: float, beta_end: float, num_levels: int = 30) -> Levels:
  """β = linspace(β_start, β_end, L), ᾱ = cumprod(1 − β), α = √ᾱ, σ = √(1 − ᾱ), t ≥ 1.

  Level 0 (the least noisy) is dropped, as in the published configurations.
  """
  betas = jnp.linspace(beta_start, beta_end, num_levels, dtype=jnp.float32)
  alpha_bar = jnp.cumprod(1.0 - betas)[1:]
  return Levels(jnp.sqrt(alpha_bar), jnp.sqrt(1.0 - alpha_bar))


class MLPGenerator(nn.Module):
  """x = output_scale · MLP(z), SiLU hidden layers (He et al. 2025: 5 × 400 on MoG-40, MW-32)."""
  hidden_sizes: tuple[int, ...]
  out_dim: int
  output_scale: float = 1.0

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h = z
    for width in self.hidden_sizes:
      h = nn.silu(nn.Dense(width)(h))
    return self.output_scale * nn.Dense(self.out_dim)(h)


class Networks(NamedTuple):
  """The generator and the noise-prediction network, with the latent's law.

  ``generate(params, z)`` maps latents (N, latent_dim) to samples (N, dim);
  ``predict_noise(params, x_t, level)`` maps (N, dim) and integer levels (N,) to ε̂ (N, dim).
  """
  generate: Callable[[Any, jax.Array], jax.Array]
  predict_noise: Callable[[Any, jax.Array, jax.Array], jax.Array]
  init: Callable[[jax.Array], tuple[Any, Any]]  # key -> (generator params, score params)
  sample_latent: Callable[[jax.Array, int], jax.Array]


def make_networks(config: ml_collections.ConfigDict, target: targets_lib.Target,
                  levels: Levels) -> Networks:
  """MLPs for MoG/MW, EGNNs (zero centre of mass in and out) for DW/LJ.

  The score network sees x_t / √(α_t² s² + σ_t²), s = ``config.data_std`` (unit-scale inputs at
  every level) and the level as t/(L − 1), and predicts ε; then s_φ = −ε̂/σ_t.
  """
  num = levels.alpha.shape[0]
  is_particles = target.n_particles > 1
  latent_dim = target.dim if is_particles else config.latent_dim
  if is_particles:
    generator = egnn.EGNN(target.n_particles, config.generator_hidden, config.generator_layers,
                          output="positions")
    score_net = egnn.EGNN(target.n_particles, config.score_hidden, config.score_layers,
                          output="displacement")
  else:
    generator = MLPGenerator((config.generator_hidden,) * config.generator_layers, target.dim,
                             config.output_scale)
    score_net = networks.FourierTimeMLP((config.score_hidden,) * config.score_layers, target.dim,
                                        config.num_frequencies)

  def scaled_input(x_t, level):
    alpha, sigma = levels.alpha[level], levels.sigma[level]
    return x_t / jnp.sqrt(alpha**2 * config.data_std**2 + sigma**2)[:, None]

  def predict_noise(params, x_t, level):
    t = (level + 1).astype(x_t.dtype) / num
    if is_particles:
      return jax.vmap(lambda x, s: score_net.apply(params, x, s))(scaled_input(x_t, level), t)
    return score_net.apply(params, t, scaled_input(x_t, level))

  def generate(params, z):
    if is_particles:
      return jax.vmap(lambda x: generator.apply(params, x))(z)
    return generator.apply(params, z)

  def sample_latent(key, n):
    z = config.latent_std * jax.random.normal(key, (n, latent_dim))
    return particles.remove_centre_of_mass(z, target.n_particles) if is_particles else z

  def init(key):
    key_g, key_s = jax.random.split(key)
    z = jnp.zeros((latent_dim,)) + 0.1 * jnp.arange(latent_dim)  # distinct particles for EGNN
    if is_particles:
      return generator.init(key_g, z), score_net.init(key_s, z, jnp.float32(0.5))
    return generator.init(key_g, z[None]), score_net.init(key_s, jnp.ones((1,)),
                                                          jnp.zeros((1, target.dim)))

  return Networks(generate, predict_noise, init, sample_latent)


class TrainState(NamedTuple):
  generator: Any
  score: Any
  # θ̄ ← d θ̄ + (1 − d) θ after each generator step, d = config.generator_ema_decay; with d = 0
  # it is the generator itself. Samples and saved generators come from it.
  generator_ema: Any
  generator_opt: Any
  score_opt: Any
  iteration: jax.Array  # int32 scalar: the number of iterations done


class IterationInfo(NamedTuple):
  generator_loss: jax.Array  # the surrogate's value (its gradient, not its value, is meaningful)
  score_loss: jax.Array  # mean DSM loss over the score steps
  score_difference: jax.Array  # mean ‖w(t)(s_φ − ŝ_d)‖², the quantity driven to zero
  acceptance: jax.Array  # mean posterior-MALA acceptance
  generator_grad_norm: jax.Array


class Trainer(NamedTuple):
  init: Callable[[jax.Array], TrainState]
  iteration: Callable[[jax.Array, TrainState], tuple[TrainState, IterationInfo]]
  networks: Networks


def _project(x: jax.Array, target: targets_lib.Target) -> jax.Array:
  """Removes the centre of mass for particle systems (noise lives in the zero-CoM subspace)."""
  return particles.remove_centre_of_mass(x, target.n_particles) if target.n_particles > 1 else x


def surrogate_loss(x_t: jax.Array, model_score: jax.Array, target_score: jax.Array,
                   weight: jax.Array) -> jax.Array:
  """mean_n Σ_d stop_grad(w (s_φ − ŝ_d)) ⊙ x_t: its gradient is the weighted diffusive-KL one.

  Args:
    x_t: noisy generator samples (N, d), differentiable in θ.
    model_score, target_score: s_φ(x_t) and ŝ_d(x_t), (N, d).
    weight: w(t) per sample, (N,).
  """
  chex.assert_equal_shape([x_t, model_score, target_score])
  direction = jax.lax.stop_gradient(weight[:, None] * (model_score - target_score))
  return jnp.mean(jnp.sum(direction * x_t, axis=-1))


def kernel_noisy_score(x_t: jax.Array, alpha: jax.Array, sigma: jax.Array,
                       samples: jax.Array) -> jax.Array:
  """∇ log (1/M) Σⱼ N(x_t; α xⱼ, σ² I): the noisy score of the empirical law of ``samples``.

  For M samples of a law q it estimates ∇ log q_t, the score of q convolved with the VP kernel
  x_t = α x + σ ε, consistently as M → ∞ (a ratio of two Monte Carlo means).

  Args:
    x_t: one noisy configuration (d,).
    alpha, sigma: α_t and σ_t, scalars.
    samples: (M, d) draws of q.
  """
  chex.assert_rank([x_t, samples], [1, 2])
  logits = jnp.zeros(samples.shape[0], x_t.dtype)
  return -jax.grad(energies.isotropic_mixture_energy)(x_t, logits, alpha * samples, sigma)


def make_posterior_score(config: ml_collections.ConfigDict,
                         energy_fn: Callable[[jax.Array], jax.Array]
                         ) -> Callable[[jax.Array, jax.Array, jax.Array, jax.Array],
                                       tuple[jax.Array, jax.Array]]:
  """ŝ_d for a batch with the configuration's posterior sampler: ``(key, x_t (N, d), α_t (N,),
  σ_t (N,)) -> (scores (N, d), MALA acceptances (N,))`` (``posterior.noisy_score`` per row).

  The initial MALA step is ``step_scale`` times the posterior's variance, min(σ²/α², s²) with
  s = ``posterior_std`` (the target's local width). With ``annealing_steps`` > 0 the tempered
  steps follow π_b's variance 1/(α²/σ² + b/s²), and ``annealing_schedule="geometric"`` starts
  the temperatures at b_1 = min(1, (s α/σ)²), where b_1 E is of order one on the proposals.
  """
  post = posterior.PosteriorConfig(num_importance=config.num_importance,
                                   num_chains=config.num_posterior_samples,
                                   mala_steps=config.mala_steps,
                                   adapt_step_size=config.adapt_step_size,
                                   annealing_steps=config.annealing_steps)
  if config.annealing_schedule not in ANNEALING_SCHEDULES:
    raise ValueError(f"annealing_schedule must be one of {ANNEALING_SCHEDULES}, "
                     f"got {config.annealing_schedule!r}")
  anneal = config.annealing_steps > 0
  geometric = config.annealing_schedule == "geometric"
  s2 = config.posterior_std**2

  def one(key, x_t, alpha, sigma):
    step = config.step_scale * jnp.minimum(sigma**2 / alpha**2, s2)
    if not anneal:
      return posterior.noisy_score(key, energy_fn, x_t, alpha, sigma, post, step_size=step)
    first = jnp.minimum(1.0, s2 * alpha**2 / sigma**2) if geometric else None
    temperatures = posterior.annealing_temperatures(config.annealing_steps, first)
    anneal_steps = config.step_scale / (alpha**2 / sigma**2 + temperatures[1:] / s2)
    return posterior.noisy_score(key, energy_fn, x_t, alpha, sigma, post, step_size=step,
                                 anneal_step_sizes=anneal_steps, temperatures=temperatures)

  def scores(key, x_t, alpha, sigma):
    chex.assert_rank(x_t, 2)
    return jax.vmap(one)(jax.random.split(key, x_t.shape[0]), x_t, alpha, sigma)

  return scores


def make_trainer(config: ml_collections.ConfigDict, target: targets_lib.Target,
                 method: str = "dikl", energy_fn: Callable[[jax.Array], jax.Array] | None = None,
                 exact_noisy_score: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
                 | None = None, kernel_model_score: int = 0) -> Trainer:
  """DiKL's training iteration for ``target`` (``energy_fn`` overrides its energy, e.g. LJ's
  soft core); ``method="rkl"`` keeps only the smallest noise level (the reverse KL).

  ``exact_noisy_score(x_t, α_t, σ_t)`` (one configuration), where the target's noisy score has a
  closed form, replaces the posterior sampler's ŝ_d: a diagnostic that separates the error of
  the posterior sampling from that of the generator and score network's learning.

  ``kernel_model_score`` = M > 0 replaces s_φ, for MLP targets, by the score of q_θ,t estimated
  from M fresh generator samples xⱼ: ∇ log (1/M) Σⱼ N(x_t; α_t xⱼ, σ_t² I), consistent as M → ∞.
  With ``exact_noisy_score`` as well, the generator follows the diffusive KL's own gradient, and
  what is left is the generator's learning. The score network is still trained, but unused.
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  energy_fn = energy_fn or target.energy
  levels = vp_levels(config.beta_start, config.beta_end, config.num_levels)
  nets = make_networks(config, target, levels)
  num_levels = 1 if method == "rkl" else levels.alpha.shape[0]
  if kernel_model_score and target.n_particles > 1:
    raise ValueError("kernel_model_score is for the MLP targets (mog, mw)")
  posterior_score = make_posterior_score(config, energy_fn)

  def optimiser(lr):
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(lr))

  generator_lr = config.generator_lr
  if config.generator_decay_iterations:
    generator_lr = optax.cosine_decay_schedule(config.generator_lr,
                                               config.generator_decay_iterations,
                                               config.generator_final_lr_fraction)
  generator_opt, score_opt = optimiser(generator_lr), optimiser(config.score_lr)

  def init(key):
    gen, score = nets.init(key)
    return TrainState(gen, score, gen, generator_opt.init(gen), score_opt.init(score),
                      jnp.zeros((), jnp.int32))

  def noisy(key, x, n):
    key_level, key_noise = jax.random.split(key)
    level = jax.random.randint(key_level, (n,), 0, num_levels)
    eps = _project(jax.random.normal(key_noise, x.shape, x.dtype), target)
    return level, eps, levels.alpha[level][:, None] * x + levels.sigma[level][:, None] * eps

  # DSM's weighting over the levels is free: every weighting has the same minimiser. α_t^−p
  # (mean one over the levels) moves the fit towards the noisy levels, where the ε-loss hardly
  # sees the generator's law but w = α_t^−2 makes the generator's gradient most sensitive to it.
  score_level_weights = levels.alpha[:num_levels] ** -WEIGHT_POWERS[config.score_weight]
  score_level_weights = score_level_weights / jnp.mean(score_level_weights)

  def score_step(carry, key):
    params, opt_state, x = carry

    def dsm(params):
      level, eps, x_t = noisy(key, x, x.shape[0])
      errors = jnp.sum((nets.predict_noise(params, x_t, level) - eps) ** 2, axis=-1)
      return jnp.mean(score_level_weights[level] * errors)

    loss, grads = jax.value_and_grad(dsm)(params)
    updates, opt_state = score_opt.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, x), loss

  def target_scores(key, x_t, level):
    alpha, sigma = levels.alpha[level], levels.sigma[level]
    if exact_noisy_score is not None:
      return jax.vmap(exact_noisy_score)(x_t, alpha, sigma), jnp.ones_like(alpha)
    return posterior_score(key, x_t, alpha, sigma)

  def kernel_score(key, generator_params, x_t, alpha, sigma):
    centres = jax.lax.stop_gradient(
        nets.generate(generator_params, nets.sample_latent(key, kernel_model_score)))
    # In blocks of x_t: all at once would hold a (batch, M) array of kernel weights per gradient.
    return jax.lax.map(lambda args: kernel_noisy_score(*args, centres), (x_t, alpha, sigma),
                       batch_size=64)

  def iteration(key, state):
    # With jax_threefry_partitionable (JAX's default), split(key, 6)[:5] == split(key, 5): the
    # sixth key, for the kernel_model_score diagnostic only, leaves the other five as they were.
    key_x, key_score, key_z, key_noise, key_post, key_kernel = jax.random.split(key, 6)
    # Both batches are split over the devices (the networks' parameters are whole on each);
    # jit all-reduces the gradients and the means.
    latents = nets.sample_latent(key_x, config.score_batch_size)
    x = nets.generate(state.generator, parallel.shard_batch(latents, "config.score_batch_size"))
    (score_params, score_opt_state, _), score_losses = jax.lax.scan(
        score_step, (state.score, state.score_opt, jax.lax.stop_gradient(x)),
        jax.random.split(key_score, config.score_steps))

    z = parallel.shard_batch(nets.sample_latent(key_z, config.batch_size), "config.batch_size")
    level, eps, _ = noisy(key_noise, jnp.zeros((config.batch_size, target.dim)), config.batch_size)
    alpha, sigma = levels.alpha[level][:, None], levels.sigma[level][:, None]
    # The posterior sampling of each x_t runs on the device that holds it.
    x_t_fixed = parallel.shard_batch(alpha * nets.generate(state.generator, z) + sigma * eps,
                                     "config.batch_size")
    target_score, acceptance = target_scores(key_post, x_t_fixed, level)
    if kernel_model_score:
      model_score = kernel_score(key_kernel, state.generator, x_t_fixed, alpha[:, 0],
                                 sigma[:, 0])
    else:
      model_score = _project(-nets.predict_noise(score_params, x_t_fixed, level) / sigma, target)
    target_score = _project(target_score, target)
    weight = alpha[:, 0] ** -WEIGHT_POWERS[config.weight]

    def loss_fn(params):
      x_t = alpha * nets.generate(params, z) + sigma * eps
      return surrogate_loss(x_t, model_score, target_score, weight)

    loss, grads = jax.value_and_grad(loss_fn)(state.generator)
    updates, gen_opt_state = generator_opt.update(grads, state.generator_opt, state.generator)
    generator = optax.apply_updates(state.generator, updates)
    generator_ema = generator if not config.generator_ema_decay else optax.incremental_update(
        generator, state.generator_ema, 1.0 - config.generator_ema_decay)
    new_state = TrainState(generator, score_params, generator_ema, gen_opt_state,
                           score_opt_state, state.iteration + 1)
    info = IterationInfo(loss, jnp.mean(score_losses),
                         jnp.mean(jnp.sum((weight[:, None] * (model_score - target_score)) ** 2,
                                          axis=-1)),
                         jnp.mean(acceptance), optax.tree.norm(grads))
    return new_state, info

  return Trainer(init, iteration, nets)


def sample(nets: Networks, generator_params: Any, key: jax.Array, num: int,
           batch_size: int = 2000) -> jax.Array:
  """``num`` generator samples (num, dim) in target coordinates, drawn in batches.

  Each batch is split over the devices; ``batch_size`` is rounded up to a multiple of their
  count (the surplus of the last batch is dropped anyway).
  """
  batch_size = parallel.padded_size(batch_size)
  batches = -(-num // batch_size)
  keys = jax.random.split(key, batches)
  draw = jax.jit(lambda k: nets.generate(
      generator_params, parallel.shard_batch(nets.sample_latent(k, batch_size))))
  return jnp.concatenate([draw(k) for k in keys])[:num]

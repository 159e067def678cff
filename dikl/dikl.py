"""DiKL: a one-step generator trained with the reverse diffusive KL (He et al. 2025).

The generator x = g_θ(z), z ~ N(0, I), is trained to minimise Σ_t KL(q_θ,t ‖ p_t), where q_θ,t and
p_t are the generator's and the target's laws convolved with the VP kernel x_t = α_t x + σ_t ε.
Its gradient (He et al. 2025, eq. 9) is

    ∇_θ KL(q_θ,t ‖ p_t) = E[(∇ log q_θ,t(x_t) − ∇ log p_t(x_t)) · ∂x_t/∂θ],

estimated with a score network s_φ ≈ ∇ log q_θ,t, trained by denoising score matching on generator
samples, and the target's noisy score ŝ_d from posterior sampling (``dikl.posterior``). The
generator minimises the surrogate mean Σ stop_grad(w(t)(s_φ(x_t, t) − ŝ_d(x_t, t))) ⊙ x_t.

``dikl(...)`` is the algorithm (``common.types.Sampler``): one ``step`` is ``score_steps`` DSM
steps in a ``lax.scan`` and one generator step. The reverse-KL baseline is the same generator
trained with only the smallest noise level (``method="rkl"``).
"""

import functools
from typing import Any, Callable, NamedTuple, Protocol

import chex
import jax
import jax.numpy as jnp
import optax

from common import types
from common.diffusion import ddpm
from common.infra import parallel
from common.targets import energies
from common.targets import particles
from dikl import posterior

METHODS = ("dikl", "rkl")
# w(t) = α_t^−p by name: "one" (DW, LJ) and "inv_alpha" (MoG, MW) are He et al.'s. With
# "inv_alpha_squared" each level's pull on the generator is the difference of the two denoiser
# means over σ_t², E_q[x | x_t] − E_p[x | x_t], with no factor α_t left to silence the noisy
# levels, which are the ones that see how the mass is shared between distant modes.
WEIGHT_POWERS = {"one": 0, "inv_alpha": 1, "inv_alpha_squared": 2}


class Network(Protocol):
  """What DiKL needs of a network: a flax module, or anything with its ``init`` and ``apply``.

  The generator maps latents (N, latent_dim) to samples (N, dim): ``apply(params, z)``. The score
  network maps levels t ∈ (0, 1] (N,) and unit-scale noisy samples (N, dim) to the predicted
  noise ε̂ (N, dim): ``apply(params, t, x)``.
  """

  def init(self, key: jax.Array, *inputs: jax.Array) -> Any: ...

  def apply(self, params: Any, *inputs: jax.Array) -> jax.Array: ...


class Levels(NamedTuple):
  """The noise levels t = 1..L−1 of a VP kernel: x_t = α_t x + σ_t ε."""
  alpha: jax.Array  # (L − 1,)
  sigma: jax.Array  # (L − 1,)


def vp_levels(beta_start: float, beta_end: float, num_levels: int = 30) -> Levels:
  """β = linspace(β_start, β_end, L), ᾱ = cumprod(1 − β), α = √ᾱ, σ = √(1 − ᾱ), t ≥ 1.

  Level 0 (the least noisy) is dropped, as in the published configurations.
  """
  alpha_bar = ddpm.linear_alpha_bars_float32(num_levels, beta_start, beta_end)[1:]
  return Levels(jnp.sqrt(alpha_bar), jnp.sqrt(1.0 - alpha_bar))


class DiKLState(NamedTuple):
  generator: Any
  score: Any
  # θ̄ ← d θ̄ + (1 − d) θ after each generator step, d = generator_ema_decay; with d = 0 it is
  # the generator itself. Samples and saved generators come from it.
  generator_ema: Any
  generator_opt: Any
  score_opt: Any


class DiKLInfo(NamedTuple):
  generator_loss: jax.Array  # the surrogate's value (its gradient, not its value, is meaningful)
  score_loss: jax.Array  # mean DSM loss over the score steps
  score_difference: jax.Array  # mean ‖w(t)(s_φ − ŝ_d)‖², the quantity driven to zero
  acceptance: jax.Array  # mean posterior-MALA acceptance
  generator_grad_norm: jax.Array


def latent_sampler(latent_dim: int, latent_std: float = 1.0, n_particles: int = 1
                   ) -> Callable[[jax.Array, int], jax.Array]:
  """``(key, n) -> z (n, latent_dim)``, N(0, latent_std² I); without centre of mass for particle
  systems (``n_particles`` > 1), whose generators work in the zero-CoM subspace."""

  def sample_latent(key, n):
    z = latent_std * jax.random.normal(key, (n, latent_dim))
    return particles.remove_centre_of_mass(z, n_particles) if n_particles > 1 else z

  return sample_latent


def make_sample(generator: Network, *, latent_dim: int, latent_std: float = 1.0,
                n_particles: int = 1, batch_size: int = 2000) -> types.SampleFn:
  """``sample(key, generator params, n) -> (n, dim)``: generator samples, drawn in batches.

  Each batch is split over the devices; ``batch_size`` is rounded up to a multiple of their
  count (the surplus of the last batch is dropped anyway).
  """
  sample_latent = latent_sampler(latent_dim, latent_std, n_particles)

  def sample(key, params, num):
    size = parallel.padded_size(batch_size)
    keys = jax.random.split(key, -(-num // size))
    draw = jax.jit(lambda k: generator.apply(params, parallel.shard_batch(sample_latent(k, size))))
    return jnp.concatenate([draw(k) for k in keys])[:num]

  return sample


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


class _Noising(NamedTuple):
  """The VP kernel on a batch: ``noisy(key, x) -> (levels (N,), ε, x_t)``, ε in the target's
  subspace (``project``), and the DSM-trained noise prediction at those levels."""
  levels: Levels
  drawn_levels: int  # the levels drawn: all, or the first only (the reverse KL)
  project: Callable[[jax.Array], jax.Array]
  predict_noise: Callable[[Any, jax.Array, jax.Array], jax.Array]  # (params, x_t, level) -> ε̂

  def noisy(self, key, x):
    key_level, key_noise = jax.random.split(key)
    level = jax.random.randint(key_level, (x.shape[0],), 0, self.drawn_levels)
    eps = self.project(jax.random.normal(key_noise, x.shape, x.dtype))
    alpha, sigma = self.levels.alpha[level][:, None], self.levels.sigma[level][:, None]
    return level, eps, alpha * x + sigma * eps


def _noising(score_network: Network, levels: Levels, drawn_levels: int, n_particles: int,
             data_std: float) -> _Noising:
  """The score network sees x_t / √(α_t² s² + σ_t²), s = ``data_std`` (unit-scale inputs at
  every level), and the level as t/(L − 1), and predicts ε; then s_φ = −ε̂/σ_t."""
  num = levels.alpha.shape[0]

  def project(x):  # noise and scores of particle systems live in the zero-CoM subspace
    return particles.remove_centre_of_mass(x, n_particles) if n_particles > 1 else x

  def predict_noise(params, x_t, level):
    alpha, sigma = levels.alpha[level], levels.sigma[level]
    scaled = x_t / jnp.sqrt(alpha**2 * data_std**2 + sigma**2)[:, None]
    return score_network.apply(params, (level + 1).astype(x_t.dtype) / num, scaled)

  return _Noising(levels, drawn_levels, project, predict_noise)


def _score_fitter(noising: _Noising, optimizer: optax.GradientTransformation, num_steps: int,
                  score_weight: str):
  """``fit(key, params, opt_state, x) -> (params, opt_state, losses (num_steps,))``: DSM steps
  of the score network on the generator samples x."""
  # DSM's weighting over the levels is free: every weighting has the same minimiser. α_t^−p
  # (mean one over the levels) moves the fit towards the noisy levels, where the ε-loss hardly
  # sees the generator's law but w = α_t^−2 makes the generator's gradient most sensitive to it.
  level_weights = noising.levels.alpha[:noising.drawn_levels] ** -WEIGHT_POWERS[score_weight]
  level_weights = level_weights / jnp.mean(level_weights)

  def score_step(carry, key):
    params, opt_state, x = carry

    def dsm(params):
      level, eps, x_t = noising.noisy(key, x)
      errors = jnp.sum((noising.predict_noise(params, x_t, level) - eps) ** 2, axis=-1)
      return jnp.mean(level_weights[level] * errors)

    loss, grads = jax.value_and_grad(dsm)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, x), loss

  def fit(key, params, opt_state, x):
    (params, opt_state, _), losses = jax.lax.scan(
        score_step, (params, opt_state, x), jax.random.split(key, num_steps))
    return params, opt_state, losses

  return fit


ModelScoreFn = Callable[[jax.Array, Any, Any, jax.Array, jax.Array], jax.Array]
"""``(key, generator params, score params, x_t (N, d), levels (N,)) -> s_φ(x_t) (N, d)``."""


def _model_score(generator: Network, sample_latent: Callable[[jax.Array, int], jax.Array],
                 noising: _Noising, kernel_model_score: int) -> ModelScoreFn:
  """s_φ = −ε̂/σ_t from the score network, or with ``kernel_model_score`` = M > 0 the kernel
  estimate of q_θ,t's score from M fresh generator samples (``kernel_noisy_score``)."""
  levels = noising.levels

  def network_score(key, generator_params, score_params, x_t, level):
    del key, generator_params
    sigma = levels.sigma[level][:, None]
    return noising.project(-noising.predict_noise(score_params, x_t, level) / sigma)

  def kernel_score(key, generator_params, score_params, x_t, level):
    del score_params
    centres = jax.lax.stop_gradient(
        generator.apply(generator_params, sample_latent(key, kernel_model_score)))
    # In blocks of x_t: all at once would hold a (batch, M) array of kernel weights per gradient.
    return jax.lax.map(lambda args: kernel_noisy_score(*args, centres),
                       (x_t, levels.alpha[level], levels.sigma[level]), batch_size=64)

  return kernel_score if kernel_model_score else network_score


class _Parts(NamedTuple):
  """What one DiKL iteration (``_step``) is made of, from ``dikl``'s arguments."""
  generator: Network
  generator_optimizer: optax.GradientTransformation
  sample_latent: Callable[[jax.Array, int], jax.Array]
  noising: _Noising
  fit_score: Callable  # ``_score_fitter``
  target_score: posterior.NoisyScoreFn
  model_score: ModelScoreFn
  dim: int
  batch_size: int
  score_batch_size: int
  weight_power: int
  generator_ema_decay: float


def _step(parts: _Parts, key: jax.Array, state: DiKLState) -> tuple[DiKLState, DiKLInfo]:
  """One iteration: ``score_steps`` DSM steps, then one generator step on the surrogate."""
  generator, levels = parts.generator, parts.noising.levels
  # With jax_threefry_partitionable (JAX's default), split(key, 6)[:5] == split(key, 5): the
  # sixth key, for the kernel_model_score diagnostic only, leaves the other five as they were.
  key_x, key_score, key_z, key_noise, key_post, key_kernel = jax.random.split(key, 6)
  # Both batches are split over the devices (the networks' parameters are whole on each);
  # jit all-reduces the gradients and the means.
  latents = parallel.shard_batch(parts.sample_latent(key_x, parts.score_batch_size))
  x = generator.apply(state.generator, latents)
  score_params, score_opt_state, score_losses = parts.fit_score(
      key_score, state.score, state.score_opt, jax.lax.stop_gradient(x))

  z = parallel.shard_batch(parts.sample_latent(key_z, parts.batch_size))
  level, eps, _ = parts.noising.noisy(key_noise, jnp.zeros((parts.batch_size, parts.dim)))
  alpha, sigma = levels.alpha[level][:, None], levels.sigma[level][:, None]
  # The posterior sampling of each x_t runs on the device that holds it.
  x_t = parallel.shard_batch(alpha * generator.apply(state.generator, z) + sigma * eps)
  target, acceptance = parts.target_score(key_post, x_t, alpha[:, 0], sigma[:, 0])
  model = parts.model_score(key_kernel, state.generator, score_params, x_t, level)
  target = parts.noising.project(target)
  weight = alpha[:, 0] ** -parts.weight_power

  def loss_fn(params):
    return surrogate_loss(alpha * generator.apply(params, z) + sigma * eps, model, target, weight)

  loss, grads = jax.value_and_grad(loss_fn)(state.generator)
  updates, generator_opt = parts.generator_optimizer.update(grads, state.generator_opt,
                                                            state.generator)
  new_generator = optax.apply_updates(state.generator, updates)
  generator_ema = new_generator if not parts.generator_ema_decay else optax.incremental_update(
      new_generator, state.generator_ema, 1.0 - parts.generator_ema_decay)
  info = DiKLInfo(loss, jnp.mean(score_losses),
                  jnp.mean(jnp.sum((weight[:, None] * (model - target)) ** 2, axis=-1)),
                  jnp.mean(acceptance), optax.tree.norm(grads))
  return DiKLState(new_generator, score_params, generator_ema, generator_opt,
                   score_opt_state), info


def _check_choices(method: str, weight: str, score_weight: str, kernel_model_score: int,
                   n_particles: int) -> None:
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  for name, value in (("weight", weight), ("score_weight", score_weight)):
    if value not in WEIGHT_POWERS:
      raise ValueError(f"{name} must be one of {sorted(WEIGHT_POWERS)}, got {value!r}")
  if kernel_model_score and n_particles > 1:
    raise ValueError("kernel_model_score is for targets without particles (e.g. mog, mw)")


def dikl(
    *,
    generator: Network,
    score_network: Network,
    target_score: posterior.NoisyScoreFn,
    generator_optimizer: optax.GradientTransformation,
    score_optimizer: optax.GradientTransformation,
    dim: int,
    latent_dim: int,
    batch_size: int,
    score_batch_size: int,
    score_steps: int,
    n_particles: int = 1,
    latent_std: float = 1.0,
    beta_start: float = 1e-4,
    beta_end: float = 0.7,
    num_levels: int = 30,
    data_std: float = 1.0,
    weight: str = "inv_alpha",
    score_weight: str = "one",
    generator_ema_decay: float = 0.0,
    method: str = "dikl",
    kernel_model_score: int = 0,
    sample_batch_size: int = 2000,
) -> types.Sampler:
  """DiKL's generator and score network, trained together (He et al. 2025, eq. 9 and Alg. 1).

  Args:
    generator: latents (N, latent_dim) -> samples (N, dim) (``Network``), e.g.
      ``common.networks.generator.MLPGenerator``.
    score_network: (t (N,), x (N, dim)) -> ε̂ (N, dim) (``Network``), e.g.
      ``common.networks.mlp.FourierTimeMLP``; its input is scaled to unit variance per level.
    target_score: ŝ_d on a batch, ``dikl.posterior.make_noisy_score`` (posterior sampling of the
      target's energy) or ``dikl.posterior.exact_noisy_score``.
    generator_optimizer, score_optimizer: the two networks' optimisers.
    dim: the samples' dimension.
    latent_dim: the latents' dimension (the sample's, for particle systems).
    batch_size: generator samples per generator step.
    score_batch_size: generator samples the score network is fitted on per step.
    score_steps: DSM steps per step.
    n_particles: > 1 for particle systems: latents, noise and scores without centre of mass.
    latent_std: the latents' standard deviation.
    beta_start, beta_end, num_levels: the VP kernel's levels (``vp_levels``).
    data_std: the samples' scale s; the score network sees x_t / √(α_t² s² + σ_t²).
    weight: w(t) of the generator's loss by name (``WEIGHT_POWERS``).
    score_weight: the DSM loss's per-level weight by name, normalised to mean one.
    generator_ema_decay: d of the generator's moving average (0: the last iterate).
    method: "dikl", or "rkl": the smallest noise level only (the reverse KL).
    kernel_model_score: M > 0 replaces s_φ by the score of q_θ,t estimated from M fresh
      generator samples (``kernel_noisy_score``), a diagnostic for targets without particles;
      the score network is still trained, but unused.
    sample_batch_size: generator samples per compiled call of ``sample``.

  Returns:
    ``Sampler``: ``init(key) -> DiKLState``, ``step(key, state) -> (DiKLState, DiKLInfo)`` (one
    iteration) and ``sample(key, generator params, n) -> (n, dim)``.
  """
  _check_choices(method, weight, score_weight, kernel_model_score, n_particles)
  levels = vp_levels(beta_start, beta_end, num_levels)
  noising = _noising(score_network, levels, 1 if method == "rkl" else levels.alpha.shape[0],
                     n_particles, data_std)
  sample_latent = latent_sampler(latent_dim, latent_std, n_particles)

  def init(key):
    key_g, key_s = jax.random.split(key)
    z = jnp.zeros((latent_dim,)) + 0.1 * jnp.arange(latent_dim)  # distinct particles for EGNN
    gen = generator.init(key_g, z[None])
    score = score_network.init(key_s, jnp.ones((1,)), jnp.zeros((1, dim)))
    return DiKLState(gen, score, gen, generator_optimizer.init(gen), score_optimizer.init(score))

  parts = _Parts(generator, generator_optimizer, sample_latent, noising,
                 _score_fitter(noising, score_optimizer, score_steps, score_weight), target_score,
                 _model_score(generator, sample_latent, noising, kernel_model_score), dim,
                 batch_size, score_batch_size, WEIGHT_POWERS[weight], generator_ema_decay)
  sample = make_sample(generator, latent_dim=latent_dim, latent_std=latent_std,
                       n_particles=n_particles, batch_size=sample_batch_size)
  return types.Sampler(init, functools.partial(_step, parts), sample)

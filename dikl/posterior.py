"""DiKL's target noisy score: posterior sampling of p(x | x_t) and the mixed score identity.

For a VP kernel x_t = α_t x + σ_t ε (α_t² + σ_t² = 1) and a target π ∝ exp(−E), the posterior is

    p(x | x_t) ∝ exp(−E(x)) N(x_t; α_t x, σ_t² I).

Tweedie's formula gives ∇ log p_t(x_t) = (α_t E[x | x_t] − x_t)/σ_t², the target score identity
gives ∇ log p_t(x_t) = E[−∇E(x) | x_t]/α_t; weighting them by σ_t² and α_t² (He et al. 2025,
§3.2) gives the mixed score identity used as the regression target of the generator,

    ŝ_d(x_t, t) = α_t (x̄ + ḡ) − x_t,   x̄ = E[x | x_t],  ḡ = E[−∇E(x) | x_t],

with x̄, ḡ averaged over posterior samples. These come from importance sampling with the proposal
N(x_t/α_t, σ_t²/α_t² I) (the likelihood as a density in x), one particle per chain resampled by
the Gumbel-max trick, then MALA on the posterior energy E(x) + ‖x_t − α_t x‖²/(2σ_t²), with the
step size adapted per chain (×1.5 above 0.6 acceptance, ÷1.5 below 0.5).

With ``annealing_steps`` K > 0 the importance sampling is annealed (Neal 2001): the proposals move
through π_b ∝ N(x; x_t/α_t, σ_t²/α_t²) exp(−b E(x)), 0 = b_0 < b_1 < … < b_K = 1, by one MALA
step each, and collect the log-weight increments −(b_k − b_{k−1}) E. Where the proposal is much
wider than the posterior (high noise on a multimodal target) plain weights select among
``num_importance`` draws that mostly miss every mode; annealed ones move the particles into the
modes first and weight the modes by their posterior mass. K = 0 is plain importance sampling.
The temperatures are linear (b_k = k/K) or geometric from a first b_1 (``annealing_temperatures``):
on a proposal of width σ_t/α_t far above the target's local width s, a first increment b_1 E of
order one needs b_1 ≈ (s α_t/σ_t)², which a linear schedule only reaches with K ~ (σ_t/(s α_t))².

``make_noisy_score`` turns this into the batch estimator ``NoisyScoreFn`` that DiKL's generator
step takes (``dikl.dikl.dikl``'s ``target_score``); ``exact_noisy_score`` puts a closed form,
where there is one, in its place.
"""

from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from common.kernels import sde


class PosteriorConfig(NamedTuple):
  num_importance: int = 10  # n_is proposals per chain
  num_chains: int = 1  # posterior samples averaged per x_t
  mala_steps: int = 5
  step_size: float = 1e-2  # initial MALA step size
  adapt_step_size: bool = False
  annealing_steps: int = 0  # K > 0: annealed importance sampling with K tempered MALA steps


def annealing_temperatures(num_steps: int, first: jax.Array | float | None = None) -> jax.Array:
  """The temperatures 0 = b_0 < b_1 ≤ … ≤ b_K = 1 of annealed importance sampling, (K + 1,).

  Args:
    num_steps: K ≥ 1.
    first: None for the linear schedule b_k = k/K; else b_1 in (0, 1] (may be traced) for the
      geometric one b_k = b_1^{(K − k)/(K − 1)}, k = 1..K (b_1 = 1 gives b_k = 1 throughout).
  """
  if num_steps < 1:
    raise ValueError(f"num_steps must be at least 1, got {num_steps}")
  k = jnp.arange(num_steps + 1, dtype=jnp.float32)
  if first is None:
    return k / num_steps
  if num_steps == 1:
    return jnp.array([0.0, 1.0], jnp.float32)
  first = jnp.asarray(first, jnp.float32)
  return jnp.where(k == 0, 0.0, first ** ((num_steps - k) / (num_steps - 1)))


def noisy_score(
    key: jax.Array,
    energy_fn: Callable[[jax.Array], jax.Array],
    x_t: jax.Array,
    alpha: jax.Array,
    sigma: jax.Array,
    config: PosteriorConfig = PosteriorConfig(),
    step_size: jax.Array | None = None,
    anneal_step_sizes: jax.Array | None = None,
    temperatures: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """ŝ_d(x_t) for one noisy configuration x_t (d,); returns (score, mean MALA acceptance).

  Vmap it over a batch of (x_t, α_t, σ_t). ``step_size`` (a scalar, may be traced) replaces
  ``config.step_size`` as the initial MALA step, e.g. one scaled to the posterior's width at
  each noise level. ``anneal_step_sizes`` (``config.annealing_steps``,) are the MALA steps of
  the tempered distributions π_b, b = b_1, …, b_K (default: the initial step throughout); the
  early ones, close to the wide proposal, can be much larger. ``temperatures``
  (``config.annealing_steps`` + 1,) are b_0 = 0, …, b_K = 1 (default: linear).
  """
  d = x_t.shape[-1]
  key_proposal, key_select, key_mala = jax.random.split(key, 3)
  shape = (config.num_chains, config.num_importance, d)
  proposals = x_t / alpha + sigma / alpha * jax.random.normal(key_proposal, shape, x_t.dtype)
  proposals = proposals.reshape(-1, d)
  initial_step = config.step_size if step_size is None else step_size

  def posterior_energy(x, x_t, alpha, sigma, b=1.0):  # −log π_b(x) + const, one configuration
    return b * energy_fn(x) + jnp.sum((x_t - alpha * x) ** 2) / (2.0 * sigma**2)

  # The proposal is the likelihood in x, so the (final) importance weights are exp(−E).
  energies = jax.vmap(energy_fn)(proposals)
  if config.annealing_steps:
    key_mala, key_anneal = jax.random.split(key_mala)
    if temperatures is None:
      temperatures = annealing_temperatures(config.annealing_steps)
    temperatures = temperatures.astype(x_t.dtype)

    if anneal_step_sizes is None:
      anneal_step_sizes = jnp.full((config.annealing_steps,), initial_step, x_t.dtype)

    def anneal_step(carry, inputs):
      x, energy, log_weight = carry
      step_key, b_previous, b, h = inputs
      log_weight = log_weight - (b - b_previous) * energy
      kernel = sde.mala(posterior_energy, h)
      state, _ = kernel.step(step_key, kernel.init(x, x_t, alpha, sigma, b), x_t, alpha, sigma, b)
      return (state.position, jax.vmap(energy_fn)(state.position), log_weight), None

    (proposals, _, log_weights), _ = jax.lax.scan(
        anneal_step, (proposals, energies, jnp.zeros_like(energies)),
        (jax.random.split(key_anneal, config.annealing_steps), temperatures[:-1], temperatures[1:],
         anneal_step_sizes))
  else:
    log_weights = -energies
  log_weights = jnp.where(jnp.isnan(log_weights), -jnp.inf, log_weights)
  log_weights = log_weights.reshape(config.num_chains, config.num_importance)
  proposals = proposals.reshape(config.num_chains, config.num_importance, d)
  gumbel = jax.random.gumbel(key_select, log_weights.shape, log_weights.dtype)
  chosen = jnp.argmax(log_weights + gumbel, axis=-1)
  x = jnp.take_along_axis(proposals, chosen[:, None, None], axis=1)[:, 0]  # (chains, d)

  def mala_step(carry, step_key):
    state, step_size = carry
    kernel = sde.mala(posterior_energy, step_size)
    state, info = kernel.step(step_key, state, x_t, alpha, sigma)
    if config.adapt_step_size:
      acceptance = info.acceptance_probability[:, None]
      step_size = jnp.where(acceptance > 0.6, step_size * 1.5,
                            jnp.where(acceptance < 0.5, step_size / 1.5, step_size))
    return (state, step_size), info.acceptance_probability

  step_sizes = jnp.full((config.num_chains, 1), initial_step, x_t.dtype)
  init = sde.mala(posterior_energy, step_sizes).init(x, x_t, alpha, sigma)
  (state, _), acceptance = jax.lax.scan(mala_step, (init, step_sizes),
                                        jax.random.split(key_mala, config.mala_steps))
  grads = -sde.energy_grad(energy_fn, state.position)
  score = alpha * (jnp.mean(state.position, 0) + jnp.mean(grads, 0)) - x_t
  return score, jnp.mean(acceptance) if config.mala_steps else jnp.float32(1.0)


NoisyScoreFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
"""``(key, x_t (N, d), α_t (N,), σ_t (N,)) -> (ŝ_d (N, d), MALA acceptances (N,))``."""

ANNEALING_SCHEDULES = ("linear", "geometric")


def make_noisy_score(energy_fn: Callable[[jax.Array], jax.Array], *, num_importance: int = 10,
                     num_chains: int = 1, mala_steps: int = 5, adapt_step_size: bool = False,
                     annealing_steps: int = 0, annealing_schedule: str = "linear",
                     step_scale: float = 0.5, posterior_std: float = 1.0) -> NoisyScoreFn:
  """ŝ_d for a batch: ``noisy_score`` per row, with step sizes scaled to each posterior's width.

  The initial MALA step is ``step_scale`` times the posterior's variance, min(σ²/α², s²) with
  s = ``posterior_std`` (the target's local width). With ``annealing_steps`` > 0 the tempered
  steps follow π_b's variance 1/(α²/σ² + b/s²), and ``annealing_schedule="geometric"`` starts
  the temperatures at b_1 = min(1, (s α/σ)²), where b_1 E is of order one on the proposals.

  Args:
    energy_fn: the target's energy E, one configuration (d,) -> scalar.
    num_importance, num_chains, mala_steps, adapt_step_size, annealing_steps: ``PosteriorConfig``.
    annealing_schedule: "linear" or "geometric" (``ANNEALING_SCHEDULES``).
    step_scale: the MALA steps as a fraction of the posterior's variance.
    posterior_std: s, the target's local width.
  """
  if annealing_schedule not in ANNEALING_SCHEDULES:
    raise ValueError(f"annealing_schedule must be one of {ANNEALING_SCHEDULES}, "
                     f"got {annealing_schedule!r}")
  config = PosteriorConfig(num_importance=num_importance, num_chains=num_chains,
                           mala_steps=mala_steps, adapt_step_size=adapt_step_size,
                           annealing_steps=annealing_steps)
  geometric = annealing_schedule == "geometric"
  s2 = posterior_std**2

  def one(key, x_t, alpha, sigma):
    step = step_scale * jnp.minimum(sigma**2 / alpha**2, s2)
    if not annealing_steps:
      return noisy_score(key, energy_fn, x_t, alpha, sigma, config, step_size=step)
    first = jnp.minimum(1.0, s2 * alpha**2 / sigma**2) if geometric else None
    temperatures = annealing_temperatures(annealing_steps, first)
    anneal_steps = step_scale / (alpha**2 / sigma**2 + temperatures[1:] / s2)
    return noisy_score(key, energy_fn, x_t, alpha, sigma, config, step_size=step,
                       anneal_step_sizes=anneal_steps, temperatures=temperatures)

  def scores(key, x_t, alpha, sigma):
    chex.assert_rank(x_t, 2)
    return jax.vmap(one)(jax.random.split(key, x_t.shape[0]), x_t, alpha, sigma)

  return scores


def exact_noisy_score(score_fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
                      ) -> NoisyScoreFn:
  """A closed-form noisy score ``score_fn(x_t (d,), α_t, σ_t)`` as a ``NoisyScoreFn``.

  In DiKL's generator step in place of the posterior sampling, it separates the error of that
  sampling from the error of the generator and score network's learning (acceptances are 1).
  """

  def scores(key, x_t, alpha, sigma):
    del key
    chex.assert_rank(x_t, 2)
    return jax.vmap(score_fn)(x_t, alpha, sigma), jnp.ones_like(alpha)

  return scores

"""The DiKL configurations as the library's arguments: the one translation, for entry points.

A configuration (``configs/dikl_<target>.py``'s ``get_config(preset)``, or the ``config.json`` a
run of ``dikl.train`` writes: any mapping of its field names to values) sets up the pieces of
``dikl.dikl.dikl``: the networks (``dikl.networks.make_networks``), the posterior sampler of the
target's noisy score (``dikl.posterior.make_noisy_score``), the optimisers and the algorithm's
keyword hyperparameters. ``dikl.train``, ``dikl.eval``, the benchmarks and the tests build DiKL
from a configuration through here; the library itself takes keyword arguments only.
"""

from typing import Any, Mapping, NamedTuple

import optax

from common import types
from common.targets import benchmarks as targets_lib
from common.targets import energies
from dikl import dikl
from dikl import networks
from dikl import posterior

Config = Mapping[str, Any]  # the fields of configs/dikl_base.py


def make_networks(config: Config, target: targets_lib.Target) -> networks.Networks:
  """The configuration's generator and score network for ``target``."""
  return networks.make_networks(
      target, generator_hidden=config["generator_hidden"],
      generator_layers=config["generator_layers"], score_hidden=config["score_hidden"],
      score_layers=config["score_layers"], latent_dim=config["latent_dim"],
      output_scale=config["output_scale"], num_frequencies=config["num_frequencies"])


def make_sample(config: Config, target: targets_lib.Target) -> types.SampleFn:
  """``sample(key, generator params, n)`` of the configuration's generator."""
  nets = make_networks(config, target)
  return dikl.make_sample(nets.generator, latent_dim=nets.latent_dim,
                          latent_std=config["latent_std"], n_particles=target.n_particles)


def make_target_score(config: Config, target: targets_lib.Target) -> posterior.NoisyScoreFn:
  """The configuration's posterior sampler of ŝ_d, on LJ-13's modified energy where it asks."""
  energy_fn = target.energy
  if config["soft_core"] or config["cubic_below"]:
    energy_fn = lambda x: energies.lennard_jones_energy(
        x, target.n_particles, soft_core=config["soft_core"],
        cubic_below=config["cubic_below"] or None)
  return posterior.make_noisy_score(
      energy_fn, num_importance=config["num_importance"],
      num_chains=config["num_posterior_samples"], mala_steps=config["mala_steps"],
      adapt_step_size=config["adapt_step_size"], annealing_steps=config["annealing_steps"],
      annealing_schedule=config["annealing_schedule"], step_scale=config["step_scale"],
      posterior_std=config["posterior_std"])


class EnergyEvaluations(NamedTuple):
  """Target energy evaluations of a DiKL training (``energy_evaluations``)."""
  per_iteration: int
  total: int  # num_iterations × per_iteration


def posterior_energy_evaluations(config: Config) -> int:
  """Target energy evaluations of the posterior sampler (``make_target_score``) per noisy x_t.

  One evaluation is E, with or without its gradient, at one configuration; this counts what
  ``dikl.posterior.noisy_score`` computes, with P = ``num_posterior_samples`` chains of
  n = ``num_importance`` proposals each:

  * the P·n proposals' energies (the importance weights), P·n;
  * with K = ``annealing_steps`` > 0, per tempered step a MALA ``init`` and ``step`` and the
    moved proposals' energies, 3·P·n each;
  * the selected particles' MALA ``init`` and ``mala_steps`` steps, P·(mala_steps + 1);
  * the final gradients for the score identity, P.

  LJ-13's ``soft_core``/``cubic_below`` energies count as evaluations of the target too.

  Args:
    config: the configuration's fields (those of ``configs/dikl_base.py``).

  Returns:
    P·n·(1 + 3K) + P·(mala_steps + 2).
  """
  chains, proposals = config["num_posterior_samples"], config["num_importance"]
  importance = chains * proposals * (1 + 3 * config["annealing_steps"])
  return importance + chains * (config["mala_steps"] + 2)


def energy_evaluations(config: Config) -> EnergyEvaluations:
  """Target energy evaluations of a DiKL training (``method`` "dikl" or "rkl") on ``config``.

  Each iteration estimates ŝ_d on ``batch_size`` noisy generator samples; the score network's
  steps and the generator's own step evaluate no energy. The evaluation of the final samples
  (metrics, figures) is not training and not counted.

  Args:
    config: the configuration's fields.

  Returns:
    ``EnergyEvaluations(per_iteration, total)``, total over ``num_iterations``.
  """
  per_iteration = config["batch_size"] * posterior_energy_evaluations(config)
  return EnergyEvaluations(per_iteration, config["num_iterations"] * per_iteration)


def model_evaluations(config: Config) -> int:
  """Network evaluations of a DiKL training on ``config``: one is the generator or the score
  network applied to one sample, with or without its gradient.

  Each iteration draws ``score_batch_size`` generator samples and fits the score network on them
  for ``score_steps`` steps, then draws ``batch_size`` noisy samples, evaluates the score network
  on them and the generator again inside the surrogate loss's gradient.

  Returns:
    ``num_iterations`` · (``score_batch_size`` · (1 + ``score_steps``) + 3 · ``batch_size``).
  """
  per_iteration = (config["score_batch_size"] * (1 + config["score_steps"])
                   + 3 * config["batch_size"])
  return config["num_iterations"] * per_iteration


def _optimisers(config: Config) -> tuple[optax.GradientTransformation,
                                         optax.GradientTransformation]:
  """Adam after global-norm clipping for both networks; the generator's step may decay."""
  generator_lr = config["generator_lr"]
  if config["generator_decay_iterations"]:
    generator_lr = optax.cosine_decay_schedule(config["generator_lr"],
                                               config["generator_decay_iterations"],
                                               config["generator_final_lr_fraction"])

  def optimiser(lr):
    return optax.chain(optax.clip_by_global_norm(config["grad_clip"]), optax.adam(lr))

  return optimiser(generator_lr), optimiser(config["score_lr"])


def make_sampler(config: Config, target: targets_lib.Target, method: str = "dikl",
                 target_score: posterior.NoisyScoreFn | None = None,
                 kernel_model_score: int = 0, sample_batch_size: int = 2000) -> types.Sampler:
  """``dikl.dikl.dikl`` as the configuration sets it up for ``target``.

  Args:
    config: the configuration's fields.
    target: the target.
    method: "dikl", or "rkl" (the reverse-KL baseline).
    target_score: ŝ_d in place of the configuration's posterior sampler, e.g.
      ``posterior.exact_noisy_score``.
    kernel_model_score, sample_batch_size: ``dikl.dikl.dikl``'s arguments of these names.
  """
  nets = make_networks(config, target)
  generator_optimizer, score_optimizer = _optimisers(config)
  return dikl.dikl(
      generator=nets.generator, score_network=nets.score_network,
      target_score=target_score or make_target_score(config, target),
      generator_optimizer=generator_optimizer, score_optimizer=score_optimizer,
      dim=target.dim, latent_dim=nets.latent_dim, batch_size=config["batch_size"],
      score_batch_size=config["score_batch_size"], score_steps=config["score_steps"],
      n_particles=target.n_particles, latent_std=config["latent_std"],
      beta_start=config["beta_start"], beta_end=config["beta_end"],
      num_levels=config["num_levels"], data_std=config["data_std"], weight=config["weight"],
      score_weight=config["score_weight"], generator_ema_decay=config["generator_ema_decay"],
      method=method, kernel_model_score=kernel_model_score, sample_batch_size=sample_batch_size)

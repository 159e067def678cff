r"""Parallel-tempering MALA, the ground-truth sampler of DW-4 and LJ-13 (``common.reference``).

Replicas at inverse temperatures 1 = β₀ > β₁ > … > β_{K−1} each run MALA on β E
(``common.kernels.sde.mala``), adjacent replicas swap configurations with probability min(1, exp((βᵢ − βⱼ)(Eᵢ − Eⱼ)))
(Swendsen & Wang 1986; Earl & Deem 2005), and the β = 1 replicas are recorded after burn-in.
Samples are centre-of-mass free for particle systems.

A run's cost in target energy evaluations (``energy_evaluations``) is known before it starts, so
a run can be fitted to a budget (``config_for_budget``), e.g. the evaluations a neural sampler
spent in training.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.kernels import sde
from common.targets import benchmarks as targets_lib
from common.targets import particles


class TemperingConfig(NamedTuple):
  """Parallel tempering settings; the defaults suit DW-4 on a laptop CPU (about 30 s).

  Many short chains rather than few long ones: with 500 chains × 20 records, 10⁴ DW-4 samples
  score W2 1.55 against the published rerun (the floor, two halves of that set, is 1.51).
  """
  num_chains: int = 500  # independent chains per temperature
  num_temperatures: int = 8
  max_temperature: float = 6.0  # β_{K−1} = 1 / max_temperature, geometric ladder
  steps_per_swap: int = 10  # MALA steps between swap attempts
  burn_in_rounds: int = 400  # rounds (of steps_per_swap + one swap) adapting the step sizes
  thin_rounds: int = 10  # rounds between recorded samples
  initial_step_size: float = 0.01
  initial_scale: float = 1.0  # chains start at N(0, initial_scale² I), centred


class TemperingState(NamedTuple):
  position: jax.Array  # (K, C, d)
  energy: jax.Array  # (K, C), untempered E
  step_size: jax.Array  # (K, C): one per chain, so that one chain's trouble does not set all


def _tempered(energy_fn):
  return lambda x, beta: beta * energy_fn(x)


def parallel_tempering(target: targets_lib.Target, config: TemperingConfig):
  """Returns ``(init, round_fn)`` for parallel-tempering MALA on ``target``.

  ``round_fn(key, state, adapt) -> (state, (acceptance (K,), swap acceptance))`` runs
  ``steps_per_swap`` MALA steps at every temperature and one swap sweep (even or odd pairs at
  random). With ``adapt`` the step size of each chain is multiplied by 1.1 when its mean
  acceptance over the round exceeds 0.65 and divided by 1.1 below 0.45. One step size per
  chain, not per temperature: an LJ-13 chain started with two particles almost on top of each
  other has gradients of order 10⁶ and rejects every move at the step its temperature's other
  chains need, so with a shared step it stays there for good (11% of LJ-13's chains did).
  """
  betas = jnp.geomspace(1.0, 1.0 / config.max_temperature, config.num_temperatures)
  tempered = _tempered(target.energy)
  batch_energy = jax.vmap(target.energy)

  def centre(x):
    return particles.remove_centre_of_mass(x, target.n_particles) if target.n_particles > 1 else x

  def init(key):
    x = config.initial_scale * jax.random.normal(
        key, (config.num_temperatures, config.num_chains, target.dim))
    x = centre(x)
    return TemperingState(x, jax.vmap(batch_energy)(x),
                          jnp.full(x.shape[:2], config.initial_step_size))

  def mala_block(key, position, beta, step_size):  # (C, d), (), (C,)
    kernel = sde.mala(tempered, step_size[:, None])
    state, info = sde.run_chain(kernel, key, kernel.init(position, beta), config.steps_per_swap,
                                beta)
    return state.position, jnp.mean(info.acceptance_probability, axis=0)

  def swap(key, position, energy):
    key_parity, key_accept = jax.random.split(key)
    parity = jax.random.bernoulli(key_parity).astype(jnp.int32)
    lower = jnp.arange(config.num_temperatures - 1)
    is_active = (lower % 2) == parity  # disjoint pairs (i, i + 1)
    log_ratio = (betas[lower, None] - betas[lower + 1, None]) * (energy[lower] - energy[lower + 1])
    accept = (jnp.log(jax.random.uniform(key_accept, log_ratio.shape)) < log_ratio)
    accept = accept & is_active[:, None]  # (K − 1, C)
    # Replica i takes i + 1's configuration where pair (i, i + 1) swaps, and vice versa.
    take_up = jnp.concatenate([accept, jnp.zeros((1, config.num_chains), bool)])
    take_down = jnp.concatenate([jnp.zeros((1, config.num_chains), bool), accept])
    source = jnp.arange(config.num_temperatures)[:, None] + take_up - take_down
    chains = jnp.arange(config.num_chains)[None, :]
    rate = jnp.sum(accept) / jnp.maximum(jnp.sum(is_active) * config.num_chains, 1)
    return position[source, chains], energy[source, chains], rate

  def round_fn(key, state, adapt):
    key_mala, key_swap = jax.random.split(key)
    keys = jax.random.split(key_mala, config.num_temperatures)
    position, acceptance = jax.vmap(mala_block)(keys, state.position, betas, state.step_size)
    position = centre(position)
    energy = jax.vmap(batch_energy)(position)
    position, energy, swap_rate = swap(key_swap, position, energy)
    factor = jnp.where(acceptance > 0.65, 1.1, jnp.where(acceptance < 0.45, 1 / 1.1, 1.0))
    step_size = jnp.where(adapt, state.step_size * factor, state.step_size)
    return TemperingState(position, energy, step_size), (jnp.mean(acceptance, 1), swap_rate)

  return init, round_fn


def evaluations_per_round(config: TemperingConfig) -> int:
  """Energy evaluations of one round (``parallel_tempering``'s ``round_fn``) per replica.

  One evaluation is E, with or without its gradient, at one configuration. Each MALA block
  starts afresh (``kernel.init``, 1: the state keeps energies, not gradients, across a swap),
  takes ``steps_per_swap`` steps (one value and gradient each), and the centred positions are
  evaluated again for the swap (1).

  Args:
    config: the tempering settings.

  Returns:
    ``steps_per_swap + 2``.
  """
  return config.steps_per_swap + 2


def num_records(config: TemperingConfig, num_samples: int) -> int:
  """Recorded sweeps of the β = 1 chains that ``num_samples`` samples need: ⌈num_samples / C⌉."""
  return -(-num_samples // config.num_chains)


def energy_evaluations(config: TemperingConfig, num_samples: int) -> int:
  """Target energy evaluations of ``sample_parallel_tempering(..., num_samples, config)``.

  Every one of the K·C replicas is evaluated once at the start (``init``) and
  ``evaluations_per_round`` times in each of the ``burn_in_rounds + R · thin_rounds`` rounds,
  R = ``num_records``. Samples beyond ``num_samples`` in the last record are paid for too.

  Args:
    config: the tempering settings.
    num_samples: the samples asked for.

  Returns:
    The exact count, as a Python int.
  """
  replicas = config.num_temperatures * config.num_chains
  rounds = config.burn_in_rounds + num_records(config, num_samples) * config.thin_rounds
  return replicas * (1 + rounds * evaluations_per_round(config))


def config_for_budget(budget: int, num_samples: int,
                      config: TemperingConfig = TemperingConfig()) -> TemperingConfig:
  """``config`` with burn-in and thinning that spend at most ``budget`` energy evaluations.

  Chains, temperatures and steps per swap stay as in ``config``. After the initial evaluation,
  the budget buys ``rounds`` whole rounds. Recording gets at most half of them but at least one
  per record, ``thin_rounds = max(1, (rounds // 2) // R)`` with R = ``num_records``, and burn-in
  (which also adapts the step sizes) the rest, ``rounds − R · thin_rounds`` ≥ 1. What is left
  unspent is less than one round's cost.

  Args:
    budget: the target energy evaluations allowed.
    num_samples: the samples asked for.
    config: the other settings (its ``burn_in_rounds`` and ``thin_rounds`` are replaced).

  Returns:
    The budgeted ``TemperingConfig``; ``energy_evaluations`` of it is ≤ ``budget``.

  Raises:
    ValueError: the budget does not cover R recorded rounds and one burn-in round.
  """
  replicas = config.num_temperatures * config.num_chains
  per_round = replicas * evaluations_per_round(config)
  records = num_records(config, num_samples)
  rounds = (budget - replicas) // per_round
  if rounds < records + 1:
    minimum = replicas + (records + 1) * per_round
    raise ValueError(
        f"a budget of {budget} energy evaluations is too small for {num_samples} samples with "
        f"{config.num_chains} chains x {config.num_temperatures} temperatures: {records} "
        f"recorded rounds and one burn-in round need at least {minimum}")
  thin = max(1, (rounds // 2) // records)
  return config._replace(burn_in_rounds=rounds - records * thin, thin_rounds=thin)


def sample_parallel_tempering(
    target: targets_lib.Target, key: jax.Array, num_samples: int,
    config: TemperingConfig = TemperingConfig(), progress=None,
) -> tuple[np.ndarray, dict]:
  """``num_samples`` β = 1 samples (N, dim) and diagnostics.

  The diagnostics are the final acceptance per temperature, the mean swap rate, the adapted step
  sizes and ``energy_evaluations``, the target energy evaluations the run used (an int).
  """
  init, round_fn = parallel_tempering(target, config)
  key_init, key_burn, key_sample = jax.random.split(key, 3)
  records = num_records(config, num_samples)

  @jax.jit
  def burn_in(key, state):
    def body(state, k):
      return round_fn(k, state, True)
    return jax.lax.scan(body, state, jax.random.split(key, config.burn_in_rounds))

  @jax.jit
  def record(key, state):
    def thin(state, k):
      state, stats = jax.lax.scan(lambda s, kk: round_fn(kk, s, False), state,
                                  jax.random.split(k, config.thin_rounds))
      return state, (state.position[0], jax.tree.map(lambda a: a[-1], stats))
    return jax.lax.scan(thin, state, jax.random.split(key, records))

  state, _ = burn_in(key_burn, init(key_init))
  if progress is not None:
    progress(config.burn_in_rounds, step_size=float(jnp.median(state.step_size[0])))
  state, (samples, (acceptance, swap_rate)) = record(key_sample, state)
  samples = np.asarray(samples).reshape(-1, target.dim)[:num_samples]
  diagnostics = {"acceptance_per_temperature": np.asarray(acceptance[-1]),
                 "swap_rate": float(np.mean(swap_rate)),
                 "step_size_per_temperature": np.median(np.asarray(state.step_size), axis=1),
                 "energy_evaluations": energy_evaluations(config, num_samples)}
  return samples, diagnostics

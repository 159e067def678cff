"""Energy-evaluation counts: parallel tempering's and DiKL's formulas against counted calls, the
budgeted tempering config, and ``python -m common.reference --energy_evaluations``."""

import json
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.kernels import tempering
from common.targets import benchmarks as targets
from configs import dikl_mog
from dikl import posterior
from dikl import presets

TINY_PT = tempering.TemperingConfig(num_chains=3, num_temperatures=2, steps_per_swap=2,
                                    burn_in_rounds=3, thin_rounds=2)


class _Counter:
  """Wraps an energy of one configuration (d,) so that every evaluation is counted.

  The count runs in a ``jax.debug.callback``, which jit and scan keep and which gradients call
  once, with the primal; under vmap it may see the whole batch, hence the reshape. XLA may run
  callbacks on several threads at once, hence the lock.
  """

  def __init__(self, energy_fn, dim):
    self.energy_fn, self.dim, self.calls = energy_fn, dim, 0
    self.lock = threading.Lock()

  def _count(self, x):
    configurations = np.asarray(x).reshape(-1, self.dim).shape[0]
    with self.lock:
      self.calls += configurations

  def __call__(self, x):
    jax.debug.callback(self._count, x)
    return self.energy_fn(x)

  def total(self) -> int:
    jax.effects_barrier()
    return self.calls


def test_tempering_count_matches_the_counted_calls_and_the_diagnostics():
  target = targets.get_target("dw")
  counter = _Counter(target.energy, target.dim)
  # 5 samples of 3 chains: 2 records, the sixth sample paid for and dropped.
  _, diagnostics = tempering.sample_parallel_tempering(
      target._replace(energy=counter), jax.random.key(0), 5, TINY_PT)
  # 6 replicas × (1 + (3 + 2 records × 2) rounds × (2 steps + 2)).
  assert tempering.energy_evaluations(TINY_PT, 5) == 6 * (1 + 7 * 4)
  assert counter.total() == tempering.energy_evaluations(TINY_PT, 5)
  assert diagnostics["energy_evaluations"] == counter.total()
  assert isinstance(diagnostics["energy_evaluations"], int)


@pytest.mark.parametrize("budget", [10_000, 123_457, 10**8])
@pytest.mark.parametrize("num_samples", [1, 1000, 10_000])
def test_budgeted_config_spends_the_budget_to_within_one_round(budget, num_samples):
  base = tempering.TemperingConfig(num_chains=50)
  round_cost = base.num_temperatures * base.num_chains * tempering.evaluations_per_round(base)
  records = tempering.num_records(base, num_samples)
  if budget < 400 + (records + 1) * round_cost:
    with pytest.raises(ValueError, match="at least"):
      tempering.config_for_budget(budget, num_samples, base)
    return
  config = tempering.config_for_budget(budget, num_samples, base)
  spent = tempering.energy_evaluations(config, num_samples)
  assert budget - round_cost < spent <= budget
  assert config.burn_in_rounds >= 1 and config.thin_rounds >= 1
  assert config.burn_in_rounds >= records * config.thin_rounds or config.thin_rounds == 1
  assert config._replace(burn_in_rounds=base.burn_in_rounds,
                         thin_rounds=base.thin_rounds) == base


def test_too_small_a_budget_names_the_minimum():
  base = tempering.TemperingConfig(num_chains=10, num_temperatures=2, steps_per_swap=3)
  minimum = 20 + (2 + 1) * 20 * 5  # init, then 2 records and 1 burn-in round of 20 × (3 + 2)
  config = tempering.config_for_budget(minimum, 20, base)
  assert (config.burn_in_rounds, config.thin_rounds) == (1, 1)
  assert tempering.energy_evaluations(config, 20) == minimum
  with pytest.raises(ValueError, match=f"need at least {minimum}"):
    tempering.config_for_budget(minimum - 1, 20, base)


def test_reference_cli_with_a_budget_writes_samples_and_the_count(run_module, tmp_path):
  out = tmp_path / "dw_budget.npy"
  budget = 30_000  # 5 chains × 8 temperatures: 40 + 62 rounds × 480
  done = run_module("common.reference", "--target=dw", "--num_samples=20", "--num_chains=5",
                    f"--energy_evaluations={budget}", f"--out={out}")
  assert done.returncode == 0, done.stderr[-3000:]
  assert np.load(out).shape == (20, 8)
  report = json.loads((tmp_path / "dw_budget.json").read_text())
  config = tempering.TemperingConfig(num_chains=5, burn_in_rounds=report["burn_in_rounds"],
                                     thin_rounds=report["thin_rounds"])
  assert report["energy_evaluation_budget"] == budget and report["num_records"] == 4
  assert report["energy_evaluations"] == tempering.energy_evaluations(config, 20) <= budget
  assert (report["burn_in_rounds"], report["thin_rounds"]) == (34, 7)  # 62 rounds: 34 + 4 × 7
  assert f"energy evaluations {report['energy_evaluations']} (budget {budget})" in done.stdout


def test_reference_cli_rejects_a_budget_it_cannot_use(run_module, tmp_path):
  for target, budget in (("mog", 10**6), ("dw", 100), ("dw", 0)):
    bad = run_module("common.reference", f"--target={target}",
                     f"--energy_evaluations={budget}", f"--out={tmp_path / 'x.npy'}")
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert lines[0].startswith("error: --energy_evaluations: "), lines[0]
  assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("num_chains, mala_steps, annealing_steps", [(1, 3, 0), (2, 0, 2)])
def test_dikl_posterior_count_matches_the_counted_calls(num_chains, mala_steps, annealing_steps):
  target = targets.get_target("mog")
  counter = _Counter(target.energy, target.dim)
  score = posterior.make_noisy_score(counter, num_importance=3, num_chains=num_chains,
                                     mala_steps=mala_steps, annealing_steps=annealing_steps)
  x_t = jnp.ones((4, 2))
  jax.jit(score)(jax.random.key(0), x_t, jnp.full((4,), 0.9), jnp.full((4,), 0.3))
  config = {"num_importance": 3, "num_posterior_samples": num_chains, "mala_steps": mala_steps,
            "annealing_steps": annealing_steps}
  assert counter.total() == 4 * presets.posterior_energy_evaluations(config)


def test_dikl_iteration_count_matches_the_counted_calls():
  config = dikl_mog.get_config("quick")
  config.update(generator_hidden=4, generator_layers=1, score_hidden=4, score_layers=1,
                batch_size=8, score_batch_size=8, score_steps=1, num_importance=3,
                mala_steps=2, num_iterations=7)
  target = targets.get_target("mog")
  counter = _Counter(target.energy, target.dim)
  sampler = presets.make_sampler(config, target._replace(energy=counter))
  jax.jit(sampler.step)(jax.random.key(1), sampler.init(jax.random.key(0)))
  evaluations = presets.energy_evaluations(config)
  assert counter.total() == evaluations.per_iteration == 8 * (3 + 2 + 2)
  assert evaluations.total == 7 * evaluations.per_iteration

r"""Ground-truth samples of the benchmark targets, produced by the user.

    python -m common.reference --target=dw --num_samples=10000 --out=dw4_reference.npy

MoG-40 and MW-32 are sampled exactly; DW-4 and LJ-13 by parallel-tempering MALA
(``common.kernels.tempering``). Samples are centre-of-mass free for particle systems.

A parallel-tempering run also writes ``<out stem>.json``: the target energy evaluations it used,
the budget (``--energy_evaluations``, which sets burn-in and thinning) and its rounds. E.g. with
the evaluations DiKL's DW-4 quick preset spends in training (its metrics.json):

    python -m common.reference --target=dw --energy_evaluations=159744000 --out=dw4_pt.npy
"""

import os
import time

from absl import flags
import jax
import numpy as np

from common.infra import cli
from common.infra import io
from common.kernels import tempering
from common.kernels.tempering import TemperingConfig, sample_parallel_tempering
from common.targets import benchmarks as targets_lib

_DEFAULTS = TemperingConfig()
_TARGET = flags.DEFINE_enum("target", "dw", list(targets_lib.NAMES), "Target to sample.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10_000, "Number of samples.")
_OUT = flags.DEFINE_string("out", None, "Output .npy path (N, dim).", required=True)
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
_CHAINS = flags.DEFINE_integer("num_chains", _DEFAULTS.num_chains,
                               "Parallel tempering: chains per temperature.")
_BURN_IN = flags.DEFINE_integer("burn_in_rounds", _DEFAULTS.burn_in_rounds,
                                "Parallel tempering: burn-in rounds.")
_THIN = flags.DEFINE_integer("thin_rounds", _DEFAULTS.thin_rounds,
                             "Parallel tempering: rounds between recorded samples.")
_BUDGET = flags.DEFINE_integer(
    "energy_evaluations", None,
    "Parallel tempering (dw, lj): spend at most this many target energy evaluations (E or its "
    "gradient at one configuration), e.g. a neural sampler's training cost. Burn-in and "
    "thinning then come from the budget and override --burn_in_rounds and --thin_rounds. "
    "Not for mog/mw, which are sampled exactly. Default: no budget.")


def _tempering_config(target: targets_lib.Target) -> TemperingConfig | None:
  """The parallel-tempering settings of the flags, validated; None for an exact sampler."""
  budget = _BUDGET.value
  if target.sample is not None:
    cli.check(budget is None, "energy_evaluations",
              f"{target.name} is sampled exactly, without energy evaluations; only the "
              "parallel-tempering targets (dw, lj) take a budget")
    return None
  config = TemperingConfig(num_chains=_CHAINS.value, burn_in_rounds=_BURN_IN.value,
                           thin_rounds=_THIN.value)
  if budget is None:
    return config
  cli.check(budget >= 1, "energy_evaluations", f"must be positive, got {budget}")
  try:
    return tempering.config_for_budget(budget, _NUM_SAMPLES.value, config)
  except ValueError as e:
    raise cli.FlagError("energy_evaluations", str(e)) from None


def _report(config: TemperingConfig, diagnostics: dict) -> dict:
  """What ``<out stem>.json`` records of a parallel-tempering run."""
  return {"target": _TARGET.value, "num_samples": _NUM_SAMPLES.value, "seed": _SEED.value,
          "energy_evaluations": diagnostics["energy_evaluations"],
          "energy_evaluation_budget": _BUDGET.value,
          "burn_in_rounds": config.burn_in_rounds, "thin_rounds": config.thin_rounds,
          "num_records": tempering.num_records(config, _NUM_SAMPLES.value),
          "num_chains": config.num_chains, "num_temperatures": config.num_temperatures,
          "steps_per_swap": config.steps_per_swap, "swap_rate": diagnostics["swap_rate"],
          "acceptance_per_temperature": diagnostics["acceptance_per_temperature"],
          "step_size_per_temperature": diagnostics["step_size_per_temperature"]}


def main(argv) -> None:
  del argv
  start = time.perf_counter()
  cli.check(_NUM_SAMPLES.value >= 1, "num_samples", f"must be positive, got {_NUM_SAMPLES.value}")
  cli.check(_CHAINS.value >= 1, "num_chains", f"must be positive, got {_CHAINS.value}")
  cli.check(_BURN_IN.value >= 1, "burn_in_rounds", f"must be positive, got {_BURN_IN.value}")
  cli.check(_THIN.value >= 1, "thin_rounds", f"must be positive, got {_THIN.value}")
  cli.check(_OUT.value.endswith(".npy"), "out", f"must end in .npy, got {_OUT.value}")
  cli.check(not os.path.isdir(_OUT.value), "out", f"{_OUT.value} is a folder")
  target = targets_lib.get_target(_TARGET.value)
  config = _tempering_config(target)
  json_path = os.path.splitext(_OUT.value)[0] + ".json"  # the report of a tempering run
  cli.check(config is None or not os.path.isdir(json_path), "out",
            f"{json_path}, where its report goes, is a folder")
  parent = os.path.dirname(os.path.abspath(_OUT.value))
  cli.make_output_dir(os.path.dirname(parent), os.path.basename(parent), "out")
  key = jax.random.key(_SEED.value)
  if config is None:
    samples, diagnostics = np.asarray(target.sample(key, _NUM_SAMPLES.value)), {"exact": True}
  else:
    samples, diagnostics = sample_parallel_tempering(
        target, key, _NUM_SAMPLES.value, config, progress=cli.Progress(config.burn_in_rounds,
                                                                       label="round"))
  io.save_npy(_OUT.value, samples.astype(np.float32))
  print(f"Wrote {samples.shape} to {_OUT.value}; {diagnostics}")
  if config is not None:
    report = {**_report(config, diagnostics), "wall_time_s": time.perf_counter() - start}
    io.save_json(json_path, report)
    budget = "none" if _BUDGET.value is None else _BUDGET.value
    print(f"energy evaluations {report['energy_evaluations']} (budget {budget}); rounds: "
          f"burn-in {report['burn_in_rounds']}, thin {report['thin_rounds']}, records "
          f"{report['num_records']}; wrote {json_path}")


if __name__ == "__main__":
  cli.run(main)

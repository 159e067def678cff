r"""Ground-truth samples of the benchmark targets, produced by the user.

    python -m common.reference --target=dw --num_samples=10000 --out=dw4_reference.npy

MoG-40 and MW-32 are sampled exactly; DW-4 and LJ-13 by parallel-tempering MALA
(``common.kernels.tempering``). Samples are centre-of-mass free for particle systems.
"""

import os

from absl import flags
import jax
import numpy as np

from common.infra import cli
from common.infra import io
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


def main(argv) -> None:
  del argv
  cli.check(_NUM_SAMPLES.value >= 1, "num_samples", f"must be positive, got {_NUM_SAMPLES.value}")
  cli.check(_CHAINS.value >= 1, "num_chains", f"must be positive, got {_CHAINS.value}")
  cli.check(_BURN_IN.value >= 1, "burn_in_rounds", f"must be positive, got {_BURN_IN.value}")
  cli.check(_THIN.value >= 1, "thin_rounds", f"must be positive, got {_THIN.value}")
  cli.check(_OUT.value.endswith(".npy"), "out", f"must end in .npy, got {_OUT.value}")
  cli.check(not os.path.isdir(_OUT.value), "out", f"{_OUT.value} is a folder")
  parent = os.path.dirname(os.path.abspath(_OUT.value))
  cli.make_output_dir(os.path.dirname(parent), os.path.basename(parent), "out")
  target = targets_lib.get_target(_TARGET.value)
  key = jax.random.key(_SEED.value)
  if target.sample is not None:
    samples, diagnostics = np.asarray(target.sample(key, _NUM_SAMPLES.value)), {"exact": True}
  else:
    config = TemperingConfig(num_chains=_CHAINS.value, burn_in_rounds=_BURN_IN.value,
                             thin_rounds=_THIN.value)
    samples, diagnostics = sample_parallel_tempering(
        target, key, _NUM_SAMPLES.value, config, progress=cli.Progress(config.burn_in_rounds,
                                                                       label="round"))
  io.save_npy(_OUT.value, samples.astype(np.float32))
  print(f"Wrote {samples.shape} to {_OUT.value}; {diagnostics}")


if __name__ == "__main__":
  cli.run(main)

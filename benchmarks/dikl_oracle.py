"""DiKL with the exact noisy target score (MoG-40, MW-32): is the posterior sampler the limit?

    python benchmarks/dikl_oracle.py [--config=configs/dikl_mw.py:quick] [--kernel_samples=M]
        [--out=F.npy] [--config.num_iterations=20000] [--config.<field>=...]

MoG-40 convolved with the VP kernel is again a mixture, of N(α_t μₖ, (α_t² s² + σ_t²) I), and
MW-32 factorises into 1-D wells and normals, so both noisy scores ∇ log p_t are exact
(``common.targets.benchmarks.EXACT_NOISY_SCORES``). The script trains the configuration
(default: MoG-40's quick preset, ``configs/dikl_mog.py``; the target is the configuration's)
with that score in place of DiKL's posterior estimate ŝ_d (``dikl.posterior.exact_noisy_score``)
and prints what ``dikl.train`` reports on 10⁴ samples
(``common.evaluation.protocol.target_metrics``; for MW-32 also the share of each double well's
samples on its deep side, 0.844 for the target). If these stay far from the specification's
bounds, what limits the preset is the generator and score network's learning, not the
posterior's importance sampling and MALA.

``--kernel_samples=M`` also replaces the score network's s_φ by the kernel estimate of the
generator's noisy score from M fresh generator samples (``dikl.dikl.dikl``'s
``kernel_model_score``; in 2-D, MoG-40, it is accurate): with both scores (nearly) exact, what is
left is how the generator learns. ``--out`` saves the samples, e.g. for
``python -m dikl.eval --target=mog --sample_path=F.npy``.
"""

import time

from absl import flags
import jax
import numpy as np

from common.evaluation import protocol
from common.infra import cli
from common.infra import io
from common.targets import benchmarks as targets
from common.training import driver
from configs import dikl_mog
from dikl import posterior
from dikl import presets


_CONFIG = cli.define_config(dikl_mog.__file__ + ":quick")
_KERNEL_SAMPLES = flags.DEFINE_integer(
    "kernel_samples", 0,
    "> 0: s_φ replaced by the kernel estimate from this many generator samples")
_OUT = flags.DEFINE_string("out", None, "where to save the samples (.npy); none: not saved")


def main(argv):
  del argv
  config = _CONFIG.value
  cli.check(config.target in targets.EXACT_NOISY_SCORES, "config",
            f"the noisy score is exact for {sorted(targets.EXACT_NOISY_SCORES)} only, "
            f"not {config.target!r}")
  cli.check(_KERNEL_SAMPLES.value >= 0, "kernel_samples", "must be non-negative")
  target = targets.get_target(config.target)
  sampler = presets.make_sampler(
      config, target,
      target_score=posterior.exact_noisy_score(targets.EXACT_NOISY_SCORES[config.target]),
      kernel_model_score=_KERNEL_SAMPLES.value)
  key_init, key_train, key_samples = jax.random.split(jax.random.key(config.seed), 3)
  start = time.perf_counter()
  state, _ = driver.train(sampler.step, sampler.init(key_init), key_train,
                          num_steps=config.num_iterations, chunk_size=config.chunk_size,
                          label="iteration")
  samples = np.asarray(sampler.sample(key_samples, state.generator_ema, config.num_samples))
  reference = np.asarray(target.sample(jax.random.key(config.seed + 1), config.num_samples))
  results = protocol.target_metrics(target, samples, reference)
  if config.target == "mw":
    deep_side = np.sort((samples[:, 0::2] > 0).mean(axis=0))
    results["deep_side_per_well"] = " ".join(f"{share:.2f}" for share in deep_side)
  if _OUT.value:
    io.save_npy(_OUT.value, samples)
  model_score = f"kernel s_φ ({_KERNEL_SAMPLES.value})" if _KERNEL_SAMPLES.value else "learned s_φ"
  print(f"exact noisy score, {model_score}, {config.num_iterations} iterations, "
        f"{time.perf_counter() - start:.0f} s: " + " | ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in results.items()))


if __name__ == "__main__":
  cli.run(main)

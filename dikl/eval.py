r"""Evaluate samples of a Boltzmann target with the protocol of DiKL (He et al. 2025, App. C).

    python -m dikl.eval --target=dw --sample_path=samples.npy --reference=ref.npy \
        --baseline_sample_dir=baselines/ --save_dir=runs/dikl_eval_dw
    python -m dikl.eval --target=dw --model_path=runs/dikl_dw_quick/generator.msgpack \
        --reference=ref.npy --save_dir=runs/dikl_eval_dw

``python -m common.evaluate`` with DiKL's three metrics by default (W2 by exact optimal
transport, energy TVD and, for DW and LJ, pairwise-distance TVD; 10 repeats of 2000 vs 2000
samples, centre of mass removed for particle systems), and one more input: ``--model_path``, a
generator saved by ``dikl.train`` (its ``config.json`` beside it rebuilds the network), from which
``--num_samples`` samples are drawn with ``--seed``. Every flag of ``common.evaluate`` applies
(``--metrics``, ``--floor``, ...). Writes ``metrics.csv``, ``metrics.md``, ``metrics.json``,
``config.json`` and ``histograms.png`` into ``--save_dir`` (default ``<file_path>/<expe_name>``).
"""

import os

from absl import flags
import jax
import numpy as np

from common import evaluate
from common.evaluation import protocol
from common.infra import cli

flags.FLAGS.set_default("metrics", list(protocol.DIKL_METRICS))
_MODEL_PATH = flags.DEFINE_string("model_path", None,
                                  "A generator.msgpack saved by dikl.train, sampled instead.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10_000, "Samples drawn from --model_path.")


def _model_samples(target):
  """Samples of the generator at --model_path, validated like a sample file."""
  from dikl import checkpoint  # pylint: disable=g-import-not-at-top
  path = _MODEL_PATH.value
  cli.check(os.path.isfile(path), "model_path", f"{path} does not exist")
  cli.check(_NUM_SAMPLES.value >= 1, "num_samples", "must be positive")
  try:
    model_target, sample, params = checkpoint.load_generator(path)
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise cli.FlagError("model_path", f"cannot load a generator from {path} ({e})") from e
  cli.check(model_target.name == target.name, "model_path",
            f"{path} is a generator for target {model_target.name}, not {target.name}")
  samples = np.asarray(sample(jax.random.key(flags.FLAGS.seed), params, _NUM_SAMPLES.value))
  finite = np.isfinite(samples).all(axis=1)
  cli.check(bool(finite.all()), "model_path",
            f"the generator gave {int((~finite).sum())} samples with NaN or infinite values")
  return samples


def _model():
  return None if _MODEL_PATH.value is None else ("num_samples", _model_samples)


def _inputs(target):
  """The validated samples {method: (N, dim)} and the reference (``common.evaluate.inputs``)."""
  return evaluate.inputs(target, _model())


def main(argv) -> None:
  del argv
  evaluate.evaluate_main("dikl_eval_{}", _model(), extra_flags=["model_path", "num_samples"])


if __name__ == "__main__":
  cli.run(main)

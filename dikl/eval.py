r"""Evaluate samples of a Boltzmann target with the protocol of DiKL (He et al. 2025, App. C).

    python -m dikl.eval --target=dw --sample_path=samples.npy --reference=ref.npy \
        --baseline_sample_dir=baselines/ --save_dir=runs/dikl_eval_dw
    python -m dikl.eval --target=dw --model_path=runs/dikl_dw_quick/generator.msgpack \
        --reference=ref.npy --save_dir=runs/dikl_eval_dw

``--model_path`` is a generator saved by ``dikl.train`` (its ``config.json`` beside it rebuilds
the network); ``--num_samples`` samples are drawn from it with ``--seed``.

Each method (the samples under evaluation first, then every ``<stem>.npy`` of
``--baseline_sample_dir``) is scored against the reference: 10 repeats of 2000 vs 2000 samples
drawn without replacement, centre of mass removed for particle systems, mean ± std of W2 (exact
optimal transport), energy TVD and (DW, LJ) pairwise-distance TVD; see ``dikl.evaluation``.
Writes ``metrics.csv``, ``metrics.md``, ``metrics.json``, ``config.json`` and
``histograms.png`` into ``--save_dir`` (default ``<file_path>/<expe_name>``).
"""

import glob
import os

from absl import flags
import jax
import numpy as np

from common.infra import cli
from common.targets import benchmarks as targets_lib
from dikl import evaluation

_TARGET = flags.DEFINE_enum("target", None, list(targets_lib.NAMES), "Target.", required=True)
_SAMPLE_PATH = flags.DEFINE_string("sample_path", None, "Samples to evaluate, .npy (N, dim).")
_MODEL_PATH = flags.DEFINE_string("model_path", None,
                                  "A generator.msgpack saved by dikl.train, sampled instead.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10_000, "Samples drawn from --model_path.")
_NAME = flags.DEFINE_string("name", "model", "Name of the evaluated samples in the table.")
_REFERENCE = flags.DEFINE_string(
    "reference", None, "Reference samples .npy; default: the exact sampler (mog, mw only).")
_BASELINES = flags.DEFINE_string(
    "baseline_sample_dir", None, "Folder of <method>.npy sample files scored alongside.")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Protocol repeats.")
_SIZE = flags.DEFINE_integer("eval_size", 2000, "Samples per set and repeat.")
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the subsampling, of --model_path's samples (key seed) and of the exact "
    "reference (key seed + 1).")
_SAVE_DIR = flags.DEFINE_string("save_dir", None, "Output folder (overrides file_path/expe_name).")
_RUN = cli.define_run_flags(None, resume=False)  # --expe_name default: dikl_eval_<target>


def _inputs(target):
  """Validated samples: {method: (N, dim)} in table order, and the reference."""
  need = _SIZE.value
  cli.check((_SAMPLE_PATH.value is None) != (_MODEL_PATH.value is None), "sample_path",
            "give exactly one of --sample_path and --model_path")
  # The tables and the figure key every set by its method name; "reference" is the reference's.
  cli.check(_NAME.value != "reference", "name", "'reference' names the reference; choose another")
  if _MODEL_PATH.value is not None:
    methods = {_NAME.value: _model_samples(target)}
  else:
    methods = {_NAME.value: cli.load_samples(_SAMPLE_PATH.value, "sample_path", target.dim)}
  if _BASELINES.value is not None:
    cli.check(os.path.isdir(_BASELINES.value), "baseline_sample_dir",
              f"{_BASELINES.value} is not a folder")
    files = sorted(glob.glob(os.path.join(_BASELINES.value, "*.npy")))
    cli.check(bool(files), "baseline_sample_dir", f"no .npy files in {_BASELINES.value}")
    for path in files:
      stem = os.path.splitext(os.path.basename(path))[0]
      cli.check(stem != "reference", "baseline_sample_dir",
                f"{path}: the method name 'reference' names the reference; rename the file")
      cli.check(stem not in methods, "baseline_sample_dir", f"method name {stem!r} twice")
      methods[stem] = cli.load_samples(path, "baseline_sample_dir", target.dim)
  if _REFERENCE.value is not None:
    reference = cli.load_samples(_REFERENCE.value, "reference", target.dim)
  else:
    cli.check(target.sample is not None, "reference",
              f"target {target.name} has no exact sampler; give reference samples "
              "(python -m common.reference makes them)")
    # Not the key of the model's samples: with one key, MW-32's reference would reuse the
    # generator's latents as its Gaussian coordinates (two correlated sets).
    reference = np.asarray(target.sample(jax.random.key(_SEED.value + 1), 5 * need))
  for name, samples in {**methods, "reference": reference}.items():
    model_flag = "sample_path" if _MODEL_PATH.value is None else "num_samples"
    flag = {"reference": "reference", _NAME.value: model_flag}.get(name, "baseline_sample_dir")
    cli.check(samples.shape[0] >= need, flag,
              f"{name} has {samples.shape[0]} samples; the protocol draws {need} per repeat")
  return methods, reference


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
  samples = np.asarray(sample(jax.random.key(_SEED.value), params, _NUM_SAMPLES.value))
  finite = np.isfinite(samples).all(axis=1)
  cli.check(bool(finite.all()), "model_path",
            f"the generator gave {int((~finite).sum())} samples with NaN or infinite values")
  return samples


def main(argv) -> None:
  del argv
  cli.check(_REPEATS.value >= 1, "repeats", f"must be positive, got {_REPEATS.value}")
  cli.check(_SIZE.value >= 2, "eval_size", f"must be at least 2, got {_SIZE.value}")
  target = targets_lib.get_target(_TARGET.value)
  methods, reference = _inputs(target)
  if _SAVE_DIR.value:
    folder = cli.make_output_dir(*os.path.split(os.path.abspath(_SAVE_DIR.value)), "save_dir")
  else:
    folder = cli.make_output_dir(_RUN.file_path.value,
                                 _RUN.expe_name.value or f"dikl_eval_{target.name}")
  cli.write_config(folder, cli.flag_values(
      ["target", "sample_path", "model_path", "num_samples", "name", "reference",
       "baseline_sample_dir", "repeats", "eval_size", "seed"]))
  rows = evaluation.evaluate(methods, reference, target, repeats=_REPEATS.value,
                             size=_SIZE.value, seed=_SEED.value)
  table = evaluation.write_report(folder, target, methods, reference, rows)
  print("\n" + table + f"Outputs written to {folder}")


if __name__ == "__main__":
  cli.run(main)

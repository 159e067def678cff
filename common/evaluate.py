r"""Score samples of a Boltzmann target with the field's metrics side by side, with their floor.

    python -m common.evaluate --target=dw --sample_path=samples.npy \
        --reference=../shared/data/dw4_test_klein.npy --baseline_sample_dir=baselines/ \
        --floor --save_dir=runs/evaluate_dw

The samples under evaluation come first, then every ``<stem>.npy`` of ``--baseline_sample_dir``
(e.g. ``python -m common.reference --energy_evaluations=N``'s output), then with ``--floor`` the
reference against itself (two disjoint halves): the value exact samples get. Each is scored
against the reference on the same subsamples (``common.evaluation.protocol``: repeats of
``--eval_size`` vs ``--eval_size`` samples; plain W2 as DiKL and iDEM report it, aligned W2 and
energy W2 as Adjoint Sampling and ASBS do, iDEM's squared energy W2, energy and distance TVD,
distance W2, MoG-40 mode coverage, MW-32 well occupancy). With ``--log_weights`` (log w per
sample of ``--sample_path``) the importance-weighted log Z and the normalised ESS are added.
Writes ``metrics.csv``, ``metrics.md``, ``metrics.json``, ``config.json`` and ``histograms.png``
into ``--save_dir`` (default ``<file_path>/<expe_name>``). ``python -m dikl.eval`` is this
command with DiKL's three metrics and a generator checkpoint as an input.
"""

import glob
import os
from typing import Callable, Sequence

from absl import flags
import jax
import numpy as np

from common.evaluation import importance
from common.evaluation import protocol
from common.evaluation import report
from common.infra import cli
from common.targets import benchmarks as targets_lib

# LJ-13's pair costs need a Hungarian loop per pair (DW-4's enumerate 24 permutations): at
# 2000 × 2000 a repeat takes minutes on 2 CPU cores, so its aligned W2 uses fewer samples.
_ALIGNED_SIZE = {"lj": 500}

_TARGET = flags.DEFINE_enum("target", None, list(targets_lib.NAMES), "Target.", required=True)
_SAMPLE_PATH = flags.DEFINE_string("sample_path", None, "Samples to evaluate, .npy (N, dim).")
_NAME = flags.DEFINE_string("name", "model", "Name of the evaluated samples in the table.")
_LOG_WEIGHTS = flags.DEFINE_string(
    "log_weights", None, "Optional .npy (N,) of log w = -E - log q for --sample_path's samples: "
    "adds the importance-weighted log Z and the ESS.")
_REFERENCE = flags.DEFINE_string(
    "reference", None, "Reference samples .npy; default: the exact sampler (mog, mw only).")
_BASELINES = flags.DEFINE_string(
    "baseline_sample_dir", None, "Folder of <method>.npy sample files scored alongside.")
_METRICS = flags.DEFINE_list(
    "metrics", None, f"Metrics to report (default: all that apply): {', '.join(protocol.ALL_METRICS)}.")
_FLOOR = flags.DEFINE_bool("floor", False, "Also score two disjoint halves of the reference.")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Protocol repeats.")
_SIZE = flags.DEFINE_integer("eval_size", 2000, "Samples per set and repeat.")
_ALIGNED_SIZE_FLAG = flags.DEFINE_integer(
    "aligned_size", None, "Samples per set for the aligned W2 (the first of each subsample); "
    "default: --eval_size, 500 for lj.")
_IS_BATCH = flags.DEFINE_integer("ess_batch_size", 16, "Samples per batch of the ESS (iDEM: 16).")
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the subsampling, of the floor's split and of the exact reference "
    "(seed + 1).")
_SAVE_DIR = flags.DEFINE_string("save_dir", None, "Output folder (overrides file_path/expe_name).")
_RUN = cli.define_run_flags(None, resume=False)  # --expe_name default: evaluate_<target>

FLAG_NAMES = ["target", "sample_path", "name", "log_weights", "reference", "baseline_sample_dir",
              "metrics", "floor", "repeats", "eval_size", "aligned_size", "ess_batch_size", "seed"]
SampleSource = Callable[[targets_lib.Target], np.ndarray]


def metric_names(target: targets_lib.Target) -> tuple[tuple[str, ...], tuple[str, ...]]:
  """The table's columns and the metrics computed: ``--metrics`` (validated) as columns, the
  ones that apply to ``target`` computed (e.g. no distance TVD for MoG-40: an empty column);
  without ``--metrics``, every metric that applies, in both roles."""
  if _METRICS.value is None:
    names = protocol.applicable(protocol.ALL_METRICS, target)
    return names, names
  try:
    protocol.applicable(_METRICS.value, target)
  except ValueError as e:
    raise cli.FlagError("metrics", str(e)) from e
  columns = tuple(name for name in protocol.ALL_METRICS if name in _METRICS.value)
  return columns, protocol.applicable(columns, target)


def inputs(target: targets_lib.Target, model: tuple[str, SampleSource] | None = None):
  """Validated samples: {method: (N, dim)} in table order, and the reference.

  Args:
    target: the target.
    model: ``(flag, draw)`` when the evaluated samples come from elsewhere than
      ``--sample_path`` (``dikl.eval``'s generator): the flag to name and how to draw them.
  """
  size = _SIZE.value
  cli.check((_SAMPLE_PATH.value is None) != (model is None), "sample_path",
            "give exactly one of --sample_path and --model_path" if model is not None
            or _SAMPLE_PATH.value is not None else "give the samples to evaluate")
  # The tables and the figure key every set by its method name; "reference" is the reference's.
  cli.check(_NAME.value not in ("reference", "floor"), "name",
            f"'{_NAME.value}' names the {_NAME.value}; choose another")
  model_flag = "sample_path" if model is None else model[0]
  methods = {_NAME.value: (cli.load_samples(_SAMPLE_PATH.value, "sample_path", target.dim)
                           if model is None else model[1](target))}
  methods.update(_baselines(target, methods))
  reference = _reference(target)
  for name, samples in {**methods, "reference": reference}.items():
    flag = {"reference": "reference", _NAME.value: model_flag}.get(name, "baseline_sample_dir")
    cli.check(samples.shape[0] >= size, flag,
              f"{name} has {samples.shape[0]} samples; the protocol draws {size} per repeat")
  cli.check(not _FLOOR.value or reference.shape[0] >= 2 * size, "floor",
            f"the reference has {reference.shape[0]} samples; two disjoint halves of {size} "
            "need twice --eval_size")
  return methods, reference


def _baselines(target, methods):
  if _BASELINES.value is None:
    return {}
  cli.check(os.path.isdir(_BASELINES.value), "baseline_sample_dir",
            f"{_BASELINES.value} is not a folder")
  files = sorted(glob.glob(os.path.join(_BASELINES.value, "*.npy")))
  cli.check(bool(files), "baseline_sample_dir", f"no .npy files in {_BASELINES.value}")
  out = {}
  for path in files:
    stem = os.path.splitext(os.path.basename(path))[0]
    cli.check(stem not in ("reference", "floor"), "baseline_sample_dir",
              f"{path}: the method name '{stem}' names the {stem}; rename the file")
    cli.check(stem not in methods, "baseline_sample_dir", f"method name {stem!r} twice")
    out[stem] = cli.load_samples(path, "baseline_sample_dir", target.dim)
  return out


def _reference(target):
  if _REFERENCE.value is not None:
    return cli.load_samples(_REFERENCE.value, "reference", target.dim)
  cli.check(target.sample is not None, "reference",
            f"target {target.name} has no exact sampler; give reference samples "
            "(python -m common.reference makes them)")
  # Not the key of a model's samples: with one key, MW-32's reference would reuse a generator's
  # latents as its Gaussian coordinates (two correlated sets).
  return np.asarray(target.sample(jax.random.key(_SEED.value + 1), 5 * _SIZE.value))


def _log_weights(num_samples: int) -> np.ndarray | None:
  if _LOG_WEIGHTS.value is None:
    return None
  cli.check(_SAMPLE_PATH.value is not None, "log_weights", "needs --sample_path")
  weights = cli.load_array(_LOG_WEIGHTS.value, "log_weights", (num_samples,))
  cli.check(_IS_BATCH.value >= 1 and _IS_BATCH.value <= num_samples, "ess_batch_size",
            f"must be in [1, {num_samples}], got {_IS_BATCH.value}")
  return weights


def _aligned_size(target: targets_lib.Target) -> int:
  size = _ALIGNED_SIZE_FLAG.value or min(_SIZE.value, _ALIGNED_SIZE.get(target.name, _SIZE.value))
  cli.check(2 <= size <= _SIZE.value, "aligned_size",
            f"must be in [2, --eval_size = {_SIZE.value}], got {size}")
  return size


def score_all(target, names, methods, reference, log_weights, aligned_size):
  """One row per method (then the floor with ``--floor``), each printed as it is done."""
  protocol_args = dict(names=names, repeats=_REPEATS.value, size=_SIZE.value,
                       aligned_size=aligned_size, seed=_SEED.value)
  rows = []
  for name, samples in methods.items():
    rows.append({"method": name, **protocol.evaluate(samples, reference, target,
                                                     **protocol_args)})
    print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in rows[-1].items() if k != "method"),
          flush=True)
  if log_weights is not None:
    rows[0].update(importance.log_z_estimate(log_weights, _IS_BATCH.value))
    if target.log_normaliser is not None:
      rows[0]["log_z_exact"] = target.log_normaliser
  if _FLOOR.value:
    rows.append({"method": "floor", **protocol.floor(reference, target, **protocol_args)})
  return rows


def evaluate_main(default_expe_name: str, model: tuple[str, SampleSource] | None = None,
                  extra_flags: Sequence[str] = ()) -> None:
  """Validates the flags, scores every method and writes the outputs (``main`` of both CLIs).

  Args:
    default_expe_name: the output folder's name without ``--expe_name``; ``{}`` is the target.
    model: see ``inputs``.
    extra_flags: further flags of the calling CLI to record in ``config.json``.
  """
  cli.check(_REPEATS.value >= 1, "repeats", f"must be positive, got {_REPEATS.value}")
  cli.check(_SIZE.value >= 2, "eval_size", f"must be at least 2, got {_SIZE.value}")
  target = targets_lib.get_target(_TARGET.value)
  columns, names = metric_names(target)
  aligned_size = _aligned_size(target)
  methods, reference = inputs(target, model)
  log_weights = _log_weights(next(iter(methods.values())).shape[0])
  if _SAVE_DIR.value:
    folder = cli.make_output_dir(*os.path.split(os.path.abspath(_SAVE_DIR.value)), "save_dir")
  else:
    folder = cli.make_output_dir(_RUN.file_path.value,
                                 _RUN.expe_name.value or default_expe_name.format(target.name))
  cli.write_config(folder, cli.flag_values(FLAG_NAMES + list(extra_flags)))
  rows = score_all(target, names, methods, reference, log_weights, aligned_size)
  notes = []
  if "aligned_w2" in names and aligned_size < _SIZE.value:
    notes.append(f"Aligned W2 on {aligned_size} of the {_SIZE.value} samples of each repeat "
                 "(--aligned_size; the pair costs grow as its square).")
  table = report.write_report(folder, target, columns, rows, methods, reference, notes)
  print("\n" + table + f"Outputs written to {folder}")


def main(argv) -> None:
  del argv
  evaluate_main("evaluate_{}")


if __name__ == "__main__":
  cli.run(main)

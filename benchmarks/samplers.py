"""DiKL, Adjoint Sampling, ASBS and a matched-budget classical baseline on one table.

    python benchmarks/samplers.py --target=dw --budget=quick --seeds=0,1,2 \\
        --reference=../shared/data/dw4_test_klein.npy [--runs_dir=runs] [--notrain]

Each method and seed has its run folder ``<runs_dir>/<method>_<target>_<budget>_s<seed>``
(``python -m dikl.train``, ``adjoint.adjoint`` or ``adjoint.asbs`` with ``--preset=<budget>`` and
``--config.seed=<seed>``). A finished run of the same configuration is reused, an unfinished one
resumed, a missing one trained (``--notrain``: reported missing and left out); a folder holding
another configuration stops the command. The baseline is parallel tempering with MALA
(``python -m common.reference``) given the largest training budget of the learned samplers, in
target energy evaluations, one run per seed (about a minute each for DW-4's quick budget); it
always runs when missing.

Every set of samples is scored with ``common.evaluation.protocol`` on all its metrics (10
repeats of 2000 against 2000 reference samples, the run's seed choosing the subsamples; LJ-13's
aligned W2 on 500), as is the floor (two halves of the reference). Writes
``samplers_<target>.md``, ``.csv`` and ``.png`` into ``--runs_dir``: per method, each metric as
mean ± sd over the seeds, the run's wall time (training, sampling and the run's own
evaluation), its energy and model evaluations (``dikl.presets``, ``adjoint.cost``) and samples/s
(the draw of ``num_samples`` once compiled; for the baseline, its whole run).
"""

import csv
import importlib
import json
import os
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
# This folder holds scripts named like the packages (adjoint.py): the repository comes first.
sys.path = [_ROOT] + [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
import numpy as np

from adjoint import cost
from common.evaluation import protocol
from common.evaluation import report
from common.infra import cli
from common.infra import io
from common.targets import benchmarks as targets_lib
from common.training import checkpoint
from dikl import presets as dikl_presets

_TARGET = flags.DEFINE_enum("target", "dw", ["dw", "lj"], "Particle system.")
_BUDGET = flags.DEFINE_enum("budget", "quick", ["quick", "paper"], "Every method's preset.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Training seeds.")
_REFERENCE = flags.DEFINE_string("reference", None, "Reference samples .npy (N, dim).",
                                 required=True)
_RUNS_DIR = flags.DEFINE_string("runs_dir", "runs", "Folder of the runs and of the table.")
_TRAIN = flags.DEFINE_bool("train", True,
                           "Train missing runs of the learned samplers (else leave them out).")

METHODS = {"dikl": "dikl.train", "adjoint": "adjoint.adjoint", "asbs": "adjoint.asbs"}
BASELINE = "pt_mala"
_ALIGNED_SIZE = {"dw": 2000, "lj": 500}


def expected_config(method: str, target: str, budget: str, seed: int) -> dict:
  """The configuration a run of ``method`` is trained with, as its ``config.json`` holds it."""
  module = importlib.import_module(f"configs.{method}_{target}")
  config = module.get_config(budget)
  config.seed = seed
  return json.loads(json.dumps(config.to_dict()))


def training_cost(method: str, config: dict) -> cost.TrainingCost:
  if method == "dikl":
    return cost.TrainingCost(dikl_presets.energy_evaluations(config).total,
                             dikl_presets.model_evaluations(config))
  return cost.training_cost(method, config)


def _differences(saved: dict, expected: dict) -> list[str]:
  return sorted(k for k in expected if saved.get(k) != expected[k])


def _run(command: list[str]) -> None:
  print("$", " ".join(command), flush=True)
  done = subprocess.run([sys.executable, "-m", *command], cwd=_ROOT, check=False)
  cli.check(done.returncode == 0, "runs_dir", f"{' '.join(command)} failed ({done.returncode})")


def trained_run(method: str, seed: int) -> str | None:
  """The finished run folder of ``method`` and ``seed`` (trained, resumed or reused)."""
  target, budget = _TARGET.value, _BUDGET.value
  name = f"{method}_{target}_{budget}_s{seed}"
  folder = os.path.join(_RUNS_DIR.value, name)
  expected = expected_config(method, target, budget, seed)
  saved_path = os.path.join(folder, "config.json")
  saved = cli.load_json(saved_path, "runs_dir") if os.path.exists(saved_path) else None
  if saved is not None:
    cli.check(not _differences(saved, expected), "runs_dir",
              f"{folder} holds a run of another configuration (fields "
              f"{_differences(saved, expected)}); move it or choose another --runs_dir")
  if os.path.exists(os.path.join(folder, "metrics.json")):
    return folder
  if not _TRAIN.value:
    print(f"missing: {folder} (--notrain)")
    return None
  resume = ["--resume"] if saved is not None and checkpoint.saved_steps(folder) else []
  _run([METHODS[method], f"--target={target}", f"--preset={budget}", f"--config.seed={seed}",
        f"--reference={_REFERENCE.value}", f"--file_path={_RUNS_DIR.value}",
        f"--expe_name={name}", *resume])
  return folder


def baseline_run(budget: int, seed: int) -> str:
  """``<runs_dir>/pt_mala_<target>_<budget>_s<seed>.npy``, run with ``budget`` evaluations."""
  out = os.path.join(_RUNS_DIR.value, f"{BASELINE}_{_TARGET.value}_{_BUDGET.value}_s{seed}.npy")
  report_path = out[:-len(".npy")] + ".json"
  if os.path.exists(report_path):
    saved = cli.load_json(report_path, "runs_dir")
    if saved.get("energy_evaluation_budget") == budget and saved.get("seed") == seed:
      return out
  _run(["common.reference", f"--target={_TARGET.value}", f"--energy_evaluations={budget}",
        f"--seed={seed}", f"--out={out}"])
  return out


def _scored_by_the_run(folder: str, names: tuple[str, ...], seed: int) -> dict | None:
  """The metrics a particle run of AS or ASBS computed itself, when it ran this protocol: the
  same reference, seed, subsample sizes and repeats (``adjoint.entry_points.particle_metrics``)."""
  config = cli.load_json(os.path.join(folder, "config.json"), "runs_dir")
  metrics = cli.load_json(os.path.join(folder, "metrics.json"), "runs_dir")
  same = (config.get("reference") is not None
          and os.path.realpath(config["reference"]) == os.path.realpath(_REFERENCE.value)
          and (config["seed"], config.get("eval_repeats"), metrics.get("eval_size"))
          == (seed, 10, 2000) and config.get("aligned_size") == _ALIGNED_SIZE[_TARGET.value])
  keys = [f"{name}_{stat}" for name in names for stat in ("mean", "std")]
  return {k: metrics[k] for k in keys} if same and set(keys) <= metrics.keys() else None


def scores(samples_path: str, reference: np.ndarray, seed: int) -> dict:
  """Every metric of the protocol: the run's own when it ran the same protocol, else computed
  and cached beside the samples for this reference and seed."""
  target = targets_lib.get_target(_TARGET.value)
  folder = os.path.dirname(samples_path)
  if os.path.exists(os.path.join(folder, "metrics.json")):
    own = _scored_by_the_run(folder, protocol.applicable(protocol.ALL_METRICS, target), seed)
    if own is not None:
      return own
  cache = os.path.splitext(samples_path)[0] + "_scores.json"
  key = {"reference": os.path.abspath(_REFERENCE.value), "seed": seed,
         "aligned_size": _ALIGNED_SIZE[_TARGET.value]}
  if os.path.exists(cache):
    saved = cli.load_json(cache, "runs_dir")
    if saved.get("key") == key:
      return saved["scores"]
  found = protocol.evaluate(np.load(samples_path), reference, target,
                            names=protocol.ALL_METRICS, seed=seed,
                            aligned_size=key["aligned_size"])
  io.save_json(cache, {"key": key, "scores": found})
  return found


def _means(found: dict) -> dict:
  """``{name: mean over the repeats}`` of the protocol's ``{<name>_mean, <name>_std}``."""
  return {k[:-len("_mean")]: v for k, v in found.items() if k.endswith("_mean")}


def _row(method: str, per_seed: list[dict]) -> dict:
  """Mean and sd over the seeds of every metric (its mean over the repeats) and cost."""
  row = {"method": method, "seeds": len(per_seed)}
  for name in per_seed[0]:
    values = [run[name] for run in per_seed if run.get(name) is not None]
    if values:
      row[f"{name}_over_seeds_mean"] = float(np.mean(values))
      row[f"{name}_over_seeds_std"] = float(np.std(values))
  return row


def method_rows(reference: np.ndarray) -> tuple[list[dict], dict[str, str]]:
  """One row per learned method (and its seed-0 samples for the figure), then the baseline's."""
  rows, figure, budgets = [], {}, []
  for method in METHODS:
    per_seed = []
    for seed in map(int, _SEEDS.value):
      folder = trained_run(method, seed)
      if folder is None:
        continue
      metrics = cli.load_json(os.path.join(folder, "metrics.json"), "runs_dir")
      spent = training_cost(method, cli.load_json(os.path.join(folder, "config.json"), "runs_dir"))
      budgets.append(spent.energy_evaluations)
      sampling = metrics.get("sampling_time_s")
      per_seed.append({**_means(scores(os.path.join(folder, "samples.npy"), reference, seed)),
                       "wall_time_s": metrics["wall_time_s"], **spent._asdict(),
                       "samples_per_s": metrics["num_samples"] / sampling if sampling else None})
      figure.setdefault(method, os.path.join(folder, "samples.npy"))
    if per_seed:
      rows.append(_row(method, per_seed))
  if budgets:
    per_seed = []
    for seed in map(int, _SEEDS.value):
      out = baseline_run(max(budgets), seed)
      run = cli.load_json(out[:-len(".npy")] + ".json", "runs_dir")
      wall = run.get("wall_time_s")
      per_seed.append({**_means(scores(out, reference, seed)), "wall_time_s": wall,
                       "energy_evaluations": run["energy_evaluations"], "model_evaluations": 0,
                       "samples_per_s": run["num_samples"] / wall if wall else None})
      figure.setdefault(BASELINE, out)
    if per_seed:
      rows.append(_row(BASELINE, per_seed))
  return rows, figure


def floor_row(reference: np.ndarray) -> dict:
  """The floor: the protocol between two halves of the reference (sd over its repeats)."""
  cache = os.path.join(_RUNS_DIR.value, f"floor_{_TARGET.value}_scores.json")
  key = {"reference": os.path.abspath(_REFERENCE.value),
         "aligned_size": _ALIGNED_SIZE[_TARGET.value]}
  found = cli.load_json(cache, "runs_dir") if os.path.exists(cache) else {}
  if found.get("key") != key:
    found = {"key": key, "scores": protocol.floor(
        reference, targets_lib.get_target(_TARGET.value), names=protocol.ALL_METRICS,
        aligned_size=key["aligned_size"])}
    io.save_json(cache, found)
  return {"method": "floor", "seeds": 0,
          **{k.replace("_mean", "_over_seeds_mean").replace("_std", "_over_seeds_std"): v
             for k, v in found["scores"].items()}}


_COSTS = (("wall_time_s", "wall time (s)", "{:.0f}"),
          ("energy_evaluations", "energy evaluations", "{:.3g}"),
          ("model_evaluations", "model evaluations", "{:.3g}"),
          ("samples_per_s", "samples/s", "{:.3g}"))


def _number(value: float) -> str:
  """Three decimals; three significant digits where a sampler's outliers make a metric huge
  (the energy W2 of a few overlapping LJ-13 configurations reaches 10¹¹)."""
  return f"{value:.3f}" if abs(value) < 1e4 else f"{value:.3g}"


def markdown(rows: list[dict], names: tuple[str, ...]) -> str:
  header = ["method", "seeds"] + [report.LABELS[n] for n in names] + [c[1] for c in _COSTS]
  lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
  for row in rows:
    cells = [row["method"], str(row["seeds"])]
    for name in names:
      mean, std = row.get(f"{name}_over_seeds_mean"), row.get(f"{name}_over_seeds_std")
      cells.append("" if mean is None else f"{_number(mean)} ± {_number(std)}")
    for name, _, fmt in _COSTS:
      mean = row.get(f"{name}_over_seeds_mean")
      cells.append("" if mean is None else fmt.format(mean))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n" + _NOTE


_NOTE = """
Metrics: mean ± sd over the seeds of each run's mean over 10 repeats of 2000 against 2000
reference samples; the floor (two halves of the reference): mean ± sd over the repeats. Wall
time: the run's own (training, sampling, its evaluation). Energy and model evaluations: those of
training. Samples/s: the trained sampler's draw once compiled; the baseline's whole run.
"""


def main(argv) -> None:
  del argv
  target = targets_lib.get_target(_TARGET.value)
  reference = cli.load_samples(_REFERENCE.value, "reference", target.dim)
  cli.check(reference.shape[0] >= 4000, "reference",
            f"has {reference.shape[0]} samples; the floor needs two halves of 2000")
  for seed in _SEEDS.value:
    cli.check(seed.isdigit(), "seeds", f"must be non-negative integers, got {seed!r}")
  os.makedirs(_RUNS_DIR.value, exist_ok=True)
  rows, figure = method_rows(reference)
  rows.append(floor_row(reference))
  names = protocol.applicable(protocol.ALL_METRICS, target)
  stem = os.path.join(_RUNS_DIR.value, f"samplers_{target.name}")
  table = markdown(rows, names)
  with io.atomic_path(stem + ".md") as tmp, open(tmp, "w") as f:
    f.write(table)
  header = sorted({k for row in rows for k in row}, key=lambda k: (k != "method", k != "seeds", k))
  with io.atomic_path(stem + ".csv") as tmp, open(tmp, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
  report.save_histograms(stem + ".png", target, {m: np.load(p) for m, p in figure.items()},
                         reference)
  print(table)
  print(f"wrote {stem}.md, .csv and .png")


if __name__ == "__main__":
  cli.run(main, compilation_cache=False)

"""DiKL's evaluation protocol on sets of samples (He et al. 2025, App. C): scores and reports.

Each method's samples are scored against the reference by ``common.evaluation.metrics.evaluate``
(repeats of ``size`` vs ``size`` samples drawn without replacement, centre of mass removed for
particle systems; mean ± std of W2, energy TVD and, for DW and LJ, pairwise-distance TVD).
``write_report`` writes ``metrics.csv``, ``metrics.md``, ``metrics.json`` and ``histograms.png``.
``python -m dikl.eval`` is the command line to these.
"""

import csv
import os

import jax
import numpy as np

from common.evaluation import metrics
from common.infra import io
from common.targets import benchmarks as targets_lib
from common.targets import particles

COLUMNS = ("method", "w2_mean", "w2_std", "energy_tvd_mean", "energy_tvd_std", "dist_tvd_mean",
           "dist_tvd_std")


def evaluate(methods: dict[str, np.ndarray], reference: np.ndarray, target: targets_lib.Target,
             *, repeats: int = 10, size: int = 2000, seed: int = 0) -> list[dict[str, float]]:
  """One row per method, in order: ``{"method": name, "<metric>_mean": …, "<metric>_std": …}``.

  Args:
    methods: name -> samples (N, dim), N ≥ ``size``.
    reference: reference samples (M, dim), M ≥ ``size``.
    target: the target (energy, particles).
    repeats, size, seed: the protocol's repeats, samples per set and repeat, and seed.
  """
  rows = []
  for name, samples in methods.items():
    scores = metrics.evaluate(samples, reference, target, repeats=repeats, size=size, seed=seed)
    rows.append({"method": name, **scores})
    print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()), flush=True)
  return rows


def write_report(folder: str, target: targets_lib.Target, methods: dict[str, np.ndarray],
                 reference: np.ndarray, rows: list[dict[str, float]]) -> str:
  """Writes the tables, ``metrics.json`` and the histograms into ``folder``; returns the
  Markdown table."""
  table = _write_tables(folder, rows)
  io.save_json(os.path.join(folder, "metrics.json"), {row["method"]: row for row in rows})
  _save_figure(folder, target, methods, reference)
  return table


def _write_tables(folder, rows):
  with io.atomic_path(os.path.join(folder, "metrics.csv")) as tmp, open(tmp, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
      writer.writerow({k: row.get(k, "") for k in COLUMNS})
  lines = ["| method | W2 | energy TVD | distance TVD |", "|---|---|---|---|"]
  for row in rows:
    cells = [row["method"]]
    for name in ("w2", "energy_tvd", "dist_tvd"):
      cells.append(f"{row[name + '_mean']:.4f} ± {row[name + '_std']:.4f}"
                   if name + "_mean" in row else "")
    lines.append("| " + " | ".join(cells) + " |")
  table = "\n".join(lines) + "\n"
  with io.atomic_path(os.path.join(folder, "metrics.md")) as tmp, open(tmp, "w") as f:
    f.write(table)
  return table


def _save_figure(folder, target, methods, reference):
  from common.infra import plotting  # pylint: disable=g-import-not-at-top
  batch_energy = jax.jit(jax.vmap(target.energy))
  energies = {"reference": np.asarray(batch_energy(reference))}
  energies.update({name: np.asarray(batch_energy(x)) for name, x in methods.items()})
  low, high = np.percentile(energies["reference"], [0.5, 99.5])
  panels = 2 if target.n_particles > 1 else 1
  fig, axes = plotting.new_figure(panels, panel_size=4.2)
  plotting.plot_histograms(axes[0], energies, edges=np.linspace(low, high, 81), xlabel="energy",
                           title=f"{target.name}: energy")
  if panels == 2:
    dists = {name: np.asarray(particles.pair_distances(x, target.n_particles))
             for name, x in {"reference": reference, **methods}.items()}
    plotting.plot_histograms(axes[1], dists,
                             edges=np.linspace(0, np.percentile(dists["reference"], 99.9), 81),
                             xlabel="pairwise distance", title=f"{target.name}: distances")
  plotting.save_figure(fig, os.path.join(folder, "histograms.png"))

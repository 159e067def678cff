"""Tables and figure of an evaluation: ``metrics.csv``, ``metrics.md``, ``metrics.json`` and
``histograms.png``, one row per method in the order given (the model under evaluation, then the
baselines, then the floor)."""

import csv
import os
from typing import Sequence

import jax
import numpy as np

from common.infra import io
from common.targets import benchmarks as targets_lib
from common.targets import particles

# Columns of the log-weight estimates (``common.evaluation.importance``), when a row has them.
IMPORTANCE_COLUMNS = ("log_z", "log_z_standard_error", "log_z_exact", "ess_mean", "ess_std",
                      "ess_batch_size")
LABELS = {"w2": "W2", "aligned_w2": "aligned W2", "energy_w2": "energy W2",
           "energy_w2_squared": "energy W2²", "energy_tvd": "energy TVD",
           "dist_tvd": "distance TVD", "dist_w2": "distance W2", "modes_covered": "modes covered",
           "p_even_positive": "P(x_even > 0)"}


def columns(names: Sequence[str], rows: Sequence[dict]) -> list[str]:
  """``method``, ``<name>_mean`` and ``<name>_std`` per metric, then any importance columns."""
  out = ["method"] + [f"{name}_{stat}" for name in names for stat in ("mean", "std")]
  return out + [c for c in IMPORTANCE_COLUMNS if any(c in row for row in rows)]


def write_report(folder: str, target: targets_lib.Target, names: Sequence[str],
                 rows: Sequence[dict], samples: dict[str, np.ndarray], reference: np.ndarray,
                 notes: Sequence[str] = ()) -> str:
  """Writes the tables, ``metrics.json`` and the histograms into ``folder``; returns the
  Markdown table (with ``notes`` below it).

  Args:
    folder: an existing output folder.
    target: the target of the samples.
    names: the metrics, in column order.
    rows: one dict per method: ``method`` and its scores (missing scores give empty cells).
    samples: the sets drawn in the figure (name -> (N, dim)), beside ``reference``.
    reference: the reference samples.
    notes: lines printed under the Markdown table (e.g. a reduced sample size).
  """
  header = columns(names, rows)
  with io.atomic_path(os.path.join(folder, "metrics.csv")) as tmp, open(tmp, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=header)
    writer.writeheader()
    for row in rows:
      writer.writerow({k: row.get(k, "") for k in header})
  table = _markdown(names, rows, header) + "".join(f"\n{note}\n" for note in notes)
  with io.atomic_path(os.path.join(folder, "metrics.md")) as tmp, open(tmp, "w") as f:
    f.write(table)
  io.save_json(os.path.join(folder, "metrics.json"), {row["method"]: row for row in rows})
  save_histograms(os.path.join(folder, "histograms.png"), target, samples, reference)
  return table


def _markdown(names, rows, header):
  extra = [c for c in header if c in IMPORTANCE_COLUMNS]
  lines = ["| method | " + " | ".join([LABELS[n] for n in names] + extra) + " |",
           "|---" * (1 + len(names) + len(extra)) + "|"]
  for row in rows:
    cells = [row["method"]]
    for name in names:
      cells.append(f"{row[name + '_mean']:.4f} ± {row[name + '_std']:.4f}"
                   if name + "_mean" in row else "")
    cells += [f"{row[c]:.4g}" if c in row else "" for c in extra]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def save_histograms(path: str, target: targets_lib.Target, samples: dict[str, np.ndarray],
                    reference: np.ndarray) -> None:
  """A PNG of the energy histograms (and, for particles, the pair-distance histograms) of each
  set of ``samples`` (name -> (N, dim)) beside ``reference``."""
  from common.infra import plotting  # pylint: disable=g-import-not-at-top
  batch_energy = jax.jit(jax.vmap(target.energy))
  energies = {"reference": np.asarray(batch_energy(reference))}
  energies.update({name: np.asarray(batch_energy(x)) for name, x in samples.items()})
  low, high = np.percentile(energies["reference"], [0.5, 99.5])
  panels = 2 if target.n_particles > 1 else 1
  fig, axes = plotting.new_figure(panels, panel_size=4.2)
  plotting.plot_histograms(axes[0], energies, edges=np.linspace(low, high, 81), xlabel="energy",
                           title=f"{target.name}: energy")
  if panels == 2:
    dists = {name: np.asarray(particles.pair_distances(x, target.n_particles))
             for name, x in {"reference": reference, **samples}.items()}
    plotting.plot_histograms(axes[1], dists,
                             edges=np.linspace(0, np.percentile(dists["reference"], 99.9), 81),
                             xlabel="pairwise distance", title=f"{target.name}: distances")
  plotting.save_figure(fig, path)

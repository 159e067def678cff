"""``python -m dikl.eval``: tables, CSV and figure; one-line errors for bad inputs."""

import csv

import jax
import numpy as np
import pytest

from common import targets


@pytest.fixture
def mog_files(tmp_path):
  target = targets.get_target("mog")
  exact = np.asarray(target.sample(jax.random.key(7), 600))
  (tmp_path / "base").mkdir()
  np.save(tmp_path / "model.npy", exact)
  np.save(tmp_path / "base" / "shifted.npy", exact + 3.0)
  return tmp_path


def test_eval_scores_model_first_and_baselines(run_module, mog_files):
  out = mog_files / "out"
  done = run_module("dikl.eval", "--target=mog", f"--sample_path={mog_files / 'model.npy'}",
                    f"--baseline_sample_dir={mog_files / 'base'}", f"--save_dir={out}",
                    "--repeats=2", "--eval_size=300")
  assert done.returncode == 0, done.stderr
  rows = list(csv.DictReader(open(out / "metrics.csv")))
  assert [r["method"] for r in rows] == ["model", "shifted"]
  assert list(rows[0]) == ["method", "w2_mean", "w2_std", "energy_tvd_mean", "energy_tvd_std",
                           "dist_tvd_mean", "dist_tvd_std"]
  assert rows[0]["dist_tvd_mean"] == ""  # not a particle system
  # Finite-sample W2 of exact draws is already ~6.7 here; the shifted set must score clearly worse.
  assert float(rows[1]["w2_mean"]) > float(rows[0]["w2_mean"]) + 0.5
  assert float(rows[1]["energy_tvd_mean"]) > float(rows[0]["energy_tvd_mean"])
  assert (out / "histograms.png").read_bytes()[:4] == b"\x89PNG"
  assert "| model |" in (out / "metrics.md").read_text()


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("wrong_dim", "dimension 3"),
    ("nan", "NaN"),
    ("no_reference", "no exact sampler"),
])
def test_eval_bad_inputs_exit_2_with_one_line(run_module, mog_files, case, message):
  path = mog_files / f"{case}.npy"
  target = "mog"
  if case == "wrong_dim":
    np.save(path, np.zeros((3000, 3)))
  elif case == "nan":
    np.save(path, np.full((3000, 2), np.nan))
  elif case == "no_reference":
    target, path = "dw", mog_files / "dw.npy"
    np.save(path, np.zeros((3000, 8)))
  out = mog_files / "never"
  done = run_module("dikl.eval", f"--target={target}", f"--sample_path={path}",
                    f"--save_dir={out}")
  assert done.returncode == 2
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and message in lines[0], done.stderr
  assert not out.exists()

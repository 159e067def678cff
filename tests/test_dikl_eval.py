"""``python -m dikl.eval``: tables, CSV and figure; one-line errors for bad inputs."""

import csv
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.infra import io
from common.targets import benchmarks as targets
from configs import dikl_mw
from dikl import presets


@pytest.fixture
def mog_files(tmp_path):
  target = targets.get_target("mog")
  exact = np.asarray(target.sample(jax.random.key(7), 600))
  (tmp_path / "base").mkdir()
  np.save(tmp_path / "model.npy", exact)
  np.save(tmp_path / "base" / "shifted.npy", exact + 10.0)
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
  # Finite-sample W2 of exact draws is already 6-8 here (300 draws of 40 modes), and a shift by
  # (3, 3) hides in that noise for some reference draws; by (10, 10) it gives W2 13.5-15.
  assert float(rows[1]["w2_mean"]) > float(rows[0]["w2_mean"]) + 0.5
  assert float(rows[1]["energy_tvd_mean"]) > float(rows[0]["energy_tvd_mean"])
  assert (out / "histograms.png").read_bytes()[:4] == b"\x89PNG"
  assert "| model |" in (out / "metrics.md").read_text()


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("wrong_dim", "dimension 3"),
    ("nan", "NaN"),
    ("no_reference", "no exact sampler"),
    ("named_reference", "--name: 'reference' names the reference"),
    ("baseline_named_reference", "reference.npy: the method name 'reference'"),
])
def test_eval_bad_inputs_exit_2_with_one_line(run_module, mog_files, case, message):
  path = mog_files / f"{case}.npy"
  target, extra = "mog", []
  if case in ("named_reference", "baseline_named_reference"):
    path = mog_files / "model.npy"
    extra = (["--name=reference"] if case == "named_reference"
             else [f"--baseline_sample_dir={mog_files / 'base'}"])
    np.save(mog_files / "base" / "reference.npy", np.load(path))
  elif case == "wrong_dim":
    np.save(path, np.zeros((3000, 3)))
  elif case == "nan":
    np.save(path, np.full((3000, 2), np.nan))
  elif case == "no_reference":
    target, path = "dw", mog_files / "dw.npy"
    np.save(path, np.zeros((3000, 8)))
  out = mog_files / "never"
  done = run_module("dikl.eval", f"--target={target}", f"--sample_path={path}",
                    f"--save_dir={out}", *extra)
  assert done.returncode == 2
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and message in lines[0], done.stderr
  assert not out.exists()


def test_model_samples_and_exact_reference_are_independent_draws(tmp_path):
  # A generator that returns its latent (one linear layer, the identity) and the exact MW-32
  # reference, drawn the way dikl.eval draws them: none of the model's values may reappear among
  # the reference's. With one key for both, the reference's Gaussian coordinates were the
  # latents of the model's second batch (a quarter of its values here).
  config = dikl_mw.get_config("quick")
  config.generator_layers = 0
  target = targets.get_target("mw")
  params = presets.make_networks(config, target).generator.init(jax.random.key(0),
                                                                 jnp.zeros((1, 32)))
  params["params"]["Dense_0"] = {"kernel": np.eye(32, dtype=np.float32),
                                 "bias": np.zeros(32, np.float32)}
  (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
  io.save_params(str(tmp_path / "generator.msgpack"), params)
  script = (
      "import sys; import numpy as np; from absl import flags; "
      "from common.targets import benchmarks as targets; "
      "from dikl import eval as dikl_eval; "
      "flags.FLAGS(['eval', '--target=mw', '--model_path=' + sys.argv[1], "
      "'--num_samples=4000', '--eval_size=400']); "
      "methods, reference = dikl_eval._inputs(targets.get_target('mw')); "
      "np.savez(sys.argv[2], model=methods['model'], reference=reference)")
  done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "generator.msgpack"),
                         str(tmp_path / "draws.npz")], capture_output=True, text=True,
                        check=False, env={**os.environ, "JAX_PLATFORMS": "cpu"},
                        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert done.returncode == 0, done.stderr[-2000:]
  draws = np.load(tmp_path / "draws.npz")
  model, reference = draws["model"], draws["reference"]
  assert model.shape == (4000, 32) and reference.shape == (2000, 32)
  assert abs(model.std() - 1.0) < 0.02  # the identity generator: standard normal latents
  assert np.isin(model, reference).mean() < 0.01

"""``python -m adjoint.ddpm`` and ``python -m adjoint.asbs`` on tiny configs: every output file.

The runs are far too short to learn anything; they check what each entry point writes (the
module docstrings list it), with the shapes the config overrides imply.
"""

import json
import os

import numpy as np

from common.infra import run_folder


def _check_outputs(folder, shapes, metric_keys, png):
  for name, shape in shapes.items():
    array = np.load(folder / name)
    assert array.shape == shape and np.all(np.isfinite(array)), (name, array.shape)
  metrics = json.loads((folder / "metrics.json").read_text())
  assert set(metric_keys) <= metrics.keys(), metrics.keys()
  assert all(np.isfinite(metrics[key]) for key in metric_keys), metrics
  assert (folder / png).read_bytes()[:4] == b"\x89PNG"
  # No temporaries left; the run's lock file stays (``common.infra.run_folder``).
  assert not [f for f in os.listdir(folder) if f.startswith(".") and f != run_folder.LOCK_FILE]
  return json.loads((folder / "config.json").read_text())


def test_ddpm_writes_histories_samples_metrics_config_and_figure(run_module, tmp_path):
  done = run_module("adjoint.ddpm", f"--file_path={tmp_path}", "--expe_name=ddpm",
                    "--config.num_epochs=2", "--config.steps_per_epoch=4",
                    "--config.batch_size=64", "--config.chunk_size=2",
                    "--config.num_monitor=100", "--config.num_samples=300",
                    "--config.hidden_sizes=(8,8)", timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
  config = _check_outputs(
      tmp_path / "ddpm",
      {"hist_loss.npy": (2,), "hist_mean.npy": (2,), "hist_std.npy": (2,),
       "samples.npy": (300, 1), "samples_ddim.npy": (300, 1)},
      ("ddpm_mean", "ddpm_std", "ddim_std", "max_relative_error_f", "wall_time_s"), "ddpm.png")
  assert config["num_epochs"] == 2 and config["hidden_sizes"] == [8, 8]


def test_asbs_writes_histories_samples_metrics_config_and_figure(run_module, tmp_path):
  done = run_module("adjoint.asbs", f"--file_path={tmp_path}", "--expe_name=asbs",
                    "--config.num_stages=2", "--config.adjoint_epochs=3",
                    "--config.corrector_epochs=2", "--config.chunk_size=3",
                    "--config.checkpoint_every=3", "--config.n_paths=32",
                    "--config.buffer_size=64", "--config.batch_size=16",
                    "--config.n_inner_loop=2", "--config.num_steps=10",
                    "--config.hidden_sizes=(16,16)", "--config.corrector_hidden_sizes=(16,16)",
                    "--config.num_samples=64", timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
  folder = tmp_path / "asbs"
  config = _check_outputs(
      folder,
      {"hist_loss.npy": (6,), "hist_mean.npy": (6, 2), "hist_std.npy": (6, 2),
       "hist_corrector_loss.npy": (2, 2), "samples.npy": (64, 2)},
      ("x_std", "mode_0_fraction", "corrector_loss_stage_1", "corrector_loss_stage_2",
       "wall_time_s"), "asbs.png")
  assert config["energy"] == "gmm" and config["num_stages"] == 2
  assert os.listdir(folder / "checkpoints")

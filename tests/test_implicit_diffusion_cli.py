"""``python -m implicit_diffusion.main``: the files it writes, and its errors for bad flags."""

import json
import os

import numpy as np
import pytest

from common.infra import run_folder

MODULE = "implicit_diffusion.main"


def test_short_run_writes_histories_samples_config_metrics_and_figure(run_module, tmp_path):
  done = run_module(MODULE, f"--file_path={tmp_path}", "--expe_name=e2e", "--steps=20",
                    "--print_every=10")
  assert done.returncode == 0, done.stderr
  assert "step 10/20" in done.stdout and "step 20/20" in done.stdout
  folder = tmp_path / "e2e"
  shapes = {"hist_reward.npy": (20,), "hist_kl_grad.npy": (20,), "hist_theta.npy": (20, 6),
            "hist_exact_reward.npy": (20,), "samples.npy": (1000, 2)}
  for name, shape in shapes.items():
    array = np.load(folder / name)
    assert array.shape == shape and array.dtype == np.float32, name
  np.testing.assert_allclose(np.load(folder / "hist_theta.npy").sum(1), 4.5, atol=1e-5)
  assert abs(np.load(folder / "hist_reward.npy")[0] - 0.0644) < 1e-3  # the published step 1
  config = json.loads((folder / "config.json").read_text())
  assert config["steps"] == 20 and config["bs"] == 1000 and config["gamma"] == 0.2
  assert config["log_option"] and config["print_option"] and config["save_option"]
  metrics = json.loads((folder / "metrics.json").read_text())
  assert len(metrics["final_weights"]) == 6 and len(metrics["component_rewards"]) == 6
  assert (folder / "implicit_diffusion.png").read_bytes()[:4] == b"\x89PNG"
  # No temporaries left; the lock file holds the folder for the run (common.infra.run_folder).
  assert not [f for f in os.listdir(folder) if f.startswith(".") and f != run_folder.LOCK_FILE]


def test_seeds_go_to_separate_files_and_the_first_seed_keeps_the_single_files(
    run_module, tmp_path):
  done = run_module(MODULE, f"--file_path={tmp_path}", "--expe_name=seeds", "--steps=12",
                    "--num_seeds=3", "--bs=200", "--print_option=false")
  assert done.returncode == 0, done.stderr
  folder = tmp_path / "seeds"
  assert np.load(folder / "hist_reward_seeds.npy").shape == (3, 12)
  assert np.load(folder / "hist_theta_seeds.npy").shape == (3, 12, 6)
  assert np.load(folder / "hist_reward.npy").shape == (12,)
  np.testing.assert_array_equal(np.load(folder / "hist_theta.npy"),
                                np.load(folder / "hist_theta_seeds.npy")[0])


def test_exact_gradient_flag_runs_the_flow(run_module, tmp_path):
  done = run_module(MODULE, f"--file_path={tmp_path}", "--expe_name=exact", "--steps=50",
                    "--exact_gradient", "--print_every=25")
  assert done.returncode == 0, done.stderr
  reward = np.load(tmp_path / "exact" / "hist_reward.npy")
  assert reward.shape == (50,) and np.all(np.diff(reward) > 0)  # gradient ascent on E[r]


@pytest.mark.parametrize("args, message", [
    ("--steps=-1", "--steps"),
    ("--bs=0", "--bs"),
    ("--gamma=0", "--gamma"),
    ("--lamb_kl=-0.5", "--lamb_kl"),
    ("--inner_steps=0", "--inner_steps"),
    ("--reward=linear", "reward"),
    ("--bs=ten", "bs"),
    ("--no_such_flag=1", "no_such_flag"),
    ("--exact_gradient --bs_ref=10", "--bs_ref"),
    ("--exact_gradient --inner_steps=5", "--inner_steps"),
    ("--exact_gradient --nowarm_start", "--warm_start"),
])
def test_bad_flags_give_one_line_and_exit_2_without_creating_anything(
    run_module, tmp_path, args, message):
  done = run_module(MODULE, f"--file_path={tmp_path / 'out'}", "--expe_name=bad", *args.split())
  assert done.returncode == 2
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], done.stderr
  assert not (tmp_path / "out").exists()


def test_unwritable_output_path_is_refused(run_module, tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  done = run_module(MODULE, f"--file_path={blocker / 'sub'}", "--steps=5")
  assert done.returncode == 2
  assert done.stderr.strip() == f"error: --file_path: cannot write under {blocker}"

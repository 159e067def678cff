"""Bad flags and inputs across the entry points of all five methods.

Each row of ``CASES`` runs ``python -m <module> <args>`` and must fail during validation: exit
status 2, the last line of stderr ``error: --<flag>: ...`` naming the flag, no traceback, and no
output folder or file created. The commands run through ``preloaded.run_modules``, which spares
each the four seconds of importing jax and the other libraries.

``python tests/test_bad_inputs.py`` prints the table with each error line, in Markdown, for
``docs/RESULTS.md``.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common.infra import cli
from common.infra import io
import preloaded

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (id, what is wrong, module, arguments, flag the error must name). "{in}" is the folder of
# prepared bad inputs, "{out}" the case's own output folder, which must never appear.
CASES = [
    ("id_steps_zero", "zero step count", "implicit_diffusion.main", ["--steps=0"], "steps"),
    ("id_gamma_inf", "non-finite step size", "implicit_diffusion.main", ["--gamma=inf"],
     "gamma"),
    ("id_unknown_reward", "unknown reward", "implicit_diffusion.main", ["--reward=linear"],
     "reward"),
    ("id_bs_not_int", "size of the wrong type", "implicit_diffusion.main", ["--bs=ten"], "bs"),
    ("id_output_under_file", "output path under an existing file", "implicit_diffusion.main",
     ["--file_path={in}/a_file/sub"], "file_path"),
    ("dikl_unknown_target", "unknown target", "dikl.train", ["--target=xyz"], "target"),
    ("dikl_unknown_preset", "unknown preset", "dikl.train", ["--target=mog", "--preset=fast"],
     "preset"),
    ("dikl_lr_inf", "non-finite learning rate (config)", "dikl.train",
     ["--target=mog", "--preset=quick", "--config.generator_lr=inf"], "config.generator_lr"),
    ("dikl_unknown_schedule", "unknown annealing schedule (config)", "dikl.train",
     ["--target=mog", "--preset=quick", "--config.annealing_schedule=cubic"],
     "config.annealing_schedule"),
    ("dikl_unknown_field", "config field that does not exist", "dikl.train",
     ["--target=mog", "--preset=quick", "--config.num_iteration=5"], "config.num_iteration"),
    ("dikl_reference_nan", "reference .npy with NaN", "dikl.train",
     ["--target=mog", "--preset=quick", "--reference={in}/nan_mog.npy"], "reference"),
    ("dikl_resume_nothing", "--resume without a checkpoint", "dikl.train",
     ["--target=mog", "--preset=quick", "--resume"], "resume"),
    ("eval_missing_file", "missing sample file", "dikl.eval",
     ["--target=dw", "--sample_path={in}/absent.npy"], "sample_path"),
    ("eval_not_npy", "text file instead of .npy", "dikl.eval",
     ["--target=dw", "--sample_path={in}/text.npy"], "sample_path"),
    ("eval_1d", "1-D array instead of (N, dim)", "dikl.eval",
     ["--target=dw", "--sample_path={in}/vector.npy"], "sample_path"),
    ("eval_wrong_dim", "samples of the wrong dimension", "dikl.eval",
     ["--target=dw", "--sample_path={in}/dim3.npy"], "sample_path"),
    ("eval_save_dir_is_file", "output folder is an existing file", "dikl.eval",
     ["--target=dw", "--sample_path={in}/dw.npy", "--reference={in}/dw.npy",
      "--save_dir={in}/a_file"], "save_dir"),
    ("reference_out_is_folder", "--out is an existing folder", "common.reference",
     ["--target=mog", "--num_samples=10", "--out={in}/folder.npy"], "out"),
    ("adjoint_unknown_energy", "unknown energy", "adjoint.adjoint", ["--energy=banana"],
     "energy"),
    ("adjoint_epochs_zero", "zero epochs (config)", "adjoint.adjoint",
     ["--config.num_epochs=0"], "config.num_epochs"),
    ("adjoint_missing_config", "missing --config file", "adjoint.adjoint",
     ["--config={in}/absent_config.py"], "config"),
    ("adjoint_negative_covariance", "negative GMM covariance (config)", "adjoint.adjoint",
     ["--config.gmm_covariance_diagonals=((2.0,-3.0),(1.0,2.0))"],
     "config.gmm_covariance_diagonals"),
    ("asbs_field_of_adjoint", "field ASBS does not have", "adjoint.asbs",
     ["--config.num_epochs=3"], "config.num_epochs"),
    ("asbs_unknown_prior", "unknown prior", "adjoint.asbs", ["--config.prior=uniform"],
     "config.prior"),
    ("ddpm_dt", "dt not 1/n", "adjoint.ddpm", ["--config.dt=0.3"], "config.dt"),
    ("ddpm_zero_width", "zero layer width", "adjoint.ddpm", ["--config.hidden_sizes=(0,4)"],
     "config.hidden_sizes"),
    ("dxmi_one_step", "one sampling step", "dxmi.train", ["--config.num_steps=1"],
     "config.num_steps"),
    ("dxmi_lr_nan", "NaN learning rate", "dxmi.train", ["--config.sampler_lr=nan"],
     "config.sampler_lr"),
    ("toy2d_unknown_init", "unknown policy initialisation", "dxmi.toy2d",
     ["--config.policy_init=random"], "config.policy_init"),
    ("evaluate_missing_run", "missing run folder", "dxmi.evaluate",
     ["--run_dir={in}/absent_run"], "run_dir"),
    ("evaluate_broken_run", "run folder with malformed config.json", "dxmi.evaluate",
     ["--run_dir={in}/broken_run"], "run_dir"),
    ("pretrain_one_sample", "one sample", "dxmi.pretrain", ["--num_samples=1"],
     "num_samples"),
    ("rg_unknown_reward", "unknown reward kind", "reward_guidance.fake_dataset",
     ["--config.reward=mystery"], "config.reward"),
    ("rg_labels_nan", "labels.npy with NaN", "reward_guidance.train",
     ["--dataset_dir={in}/dataset_nan"], "dataset_dir"),
    ("rg_labels_shape", "labels.npy of the wrong shape", "reward_guidance.train",
     ["--dataset_dir={in}/dataset_short"], "dataset_dir"),
    ("rg_steps_not_divisor", "DDIM steps not dividing 1000", "reward_guidance.train",
     ["--config.num_sampling_steps=7"], "config.num_sampling_steps"),
    ("rg_negative_guidance", "negative guidance", "reward_guidance.inference",
     ["--guidance=-1"], "guidance"),
    ("rg_missing_predictor", "missing predictor folder", "reward_guidance.inference",
     ["--predictor_dir={in}/absent_predictor"], "predictor_dir"),
    ("rg_targets_not_numbers", "targets not numbers", "reward_guidance.sweep",
     ["--targets=a,b"], "targets"),
    ("rg_latent_too_big", "latent dimension above the data's", "reward_guidance.subspace",
     ["--config.latent_dim=100"], "config.latent_dim"),
    ("id_exact_gradient_gamma", "particle flag unused by the exact gradient flow",
     "implicit_diffusion.main", ["--exact_gradient", "--gamma=0.1"], "gamma"),
    ("evaluate_guidance_without_run", "value guidance without a run", "dxmi.evaluate",
     ["--value_guidance=0.5"], "value_guidance"),
    ("eval_baseline_named_reference", "baseline file named reference.npy", "dikl.eval",
     ["--target=dw", "--sample_path={in}/dw.npy", "--reference={in}/dw.npy",
      "--baseline_sample_dir={in}/baselines"], "baseline_sample_dir"),
    ("evaluate_wrong_dim", "samples of the wrong dimension for the target", "common.evaluate",
     ["--target=lj", "--sample_path={in}/dw.npy"], "sample_path"),
    ("evaluate_nan_rows", "sample file with NaN rows", "common.evaluate",
     ["--target=mog", "--sample_path={in}/nan_mog.npy"], "sample_path"),
    ("evaluate_empty", "empty sample file", "common.evaluate",
     ["--target=dw", "--sample_path={in}/empty_dw.npy", "--reference={in}/dw.npy"],
     "sample_path"),
    ("evaluate_too_few", "fewer samples than the subsample size", "common.evaluate",
     ["--target=dw", "--sample_path={in}/short_dw.npy", "--reference={in}/dw.npy"],
     "sample_path"),
    ("evaluate_unreadable_baseline", "baseline folder with an unreadable file",
     "common.evaluate", ["--target=dw", "--sample_path={in}/dw.npy", "--reference={in}/dw.npy",
                         "--baseline_sample_dir={in}/unreadable_baselines"],
     "baseline_sample_dir"),
    ("evaluate_floor_too_small", "floor of a reference under two subsamples", "common.evaluate",
     ["--target=dw", "--sample_path={in}/dw.npy", "--reference={in}/dw.npy", "--floor"],
     "floor"),
    ("evaluate_unknown_metric", "unknown metric", "common.evaluate",
     ["--target=dw", "--sample_path={in}/dw.npy", "--reference={in}/dw.npy",
      "--metrics=w2,w3"], "metrics"),
]


def make_inputs(folder: str) -> None:
  """The malformed files and folders the cases point at."""
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "a_file"), "w") as f:
    f.write("a regular file\n")
  with open(os.path.join(folder, "text.npy"), "w") as f:
    f.write("not an array\n")
  np.save(os.path.join(folder, "vector.npy"), np.zeros(5, np.float32))
  np.save(os.path.join(folder, "dim3.npy"), np.zeros((3000, 3), np.float32))
  np.save(os.path.join(folder, "dw.npy"), np.zeros((3000, 8), np.float32))
  with_nan = np.zeros((3000, 2), np.float32)
  with_nan[7, 1] = np.nan
  np.save(os.path.join(folder, "nan_mog.npy"), with_nan)
  os.makedirs(os.path.join(folder, "folder.npy"))
  run = os.path.join(folder, "broken_run")
  os.makedirs(run)
  for name in ("sampler.msgpack", "energy.msgpack"):
    with open(os.path.join(run, name), "wb") as f:
      f.write(b"\x80")
  with open(os.path.join(run, "config.json"), "w") as f:
    f.write("{truncated")
  for name, labels in (("dataset_nan", np.r_[np.nan, np.zeros(1496)]),
                       ("dataset_short", np.zeros(7))):
    dataset = os.path.join(folder, name)
    os.makedirs(dataset)
    np.save(os.path.join(dataset, "labels.npy"), labels.astype(np.float32))
    np.savez(os.path.join(dataset, "reward.npz"), kind="intensity")
    with open(os.path.join(dataset, "metrics.json"), "w") as f:
      json.dump({"reward_mean": 0.0, "reward_std": 1.0}, f)
  np.save(os.path.join(folder, "empty_dw.npy"), np.zeros((0, 8), np.float32))
  np.save(os.path.join(folder, "short_dw.npy"), np.zeros((100, 8), np.float32))
  os.makedirs(os.path.join(folder, "unreadable_baselines"))
  with open(os.path.join(folder, "unreadable_baselines", "broken.npy"), "wb") as f:
    f.write(b"\x93NUMPY truncated")
  os.makedirs(os.path.join(folder, "baselines"))
  np.save(os.path.join(folder, "baselines", "reference.npy"), np.zeros((3000, 8), np.float32))


def command(module: str, args: list[str], inputs: str, out: str) -> list[str]:
  args = [a.format(**{"in": inputs, "out": out}) for a in args]
  where = [] if module == "common.reference" else [f"--file_path={out}"]
  return [module, *where, *args]  # a case's own --file_path comes last


def listing(folder: str) -> list[str]:
  return sorted(os.path.join(root, name) for root, dirs, files in os.walk(folder)
                for name in dirs + files)


def run_all(tmp: str) -> dict[str, preloaded.Finished]:
  inputs = os.path.join(tmp, "inputs")
  make_inputs(inputs)
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             DIFFSAMPLERS_XLA_CACHE=os.path.join(tmp, "xla_cache"))
  commands = [command(module, args, inputs, os.path.join(tmp, "out", name))
              for name, _, module, args, _ in CASES]
  return dict(zip([case[0] for case in CASES], preloaded.run_modules(commands, env)))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
  """(scratch folder, the cases' processes, paths the cases created under the repository's runs/).

  The cases run from the repository root, where default folders such as runs/digits_models live.
  """
  tmp = str(tmp_path_factory.mktemp("bad_inputs"))
  repo_runs = os.path.join(REPO, "runs")
  before = set(listing(repo_runs))
  done = run_all(tmp)
  return tmp, done, sorted(set(listing(repo_runs)) - before)


def test_the_table_spans_the_methods():
  assert len(CASES) >= 20 and len({case[0] for case in CASES}) == len(CASES)
  packages = {case[2].split(".")[0] for case in CASES}
  assert {"implicit_diffusion", "dikl", "adjoint", "dxmi", "reward_guidance"} <= packages
  assert len({case[2] for case in CASES}) >= 8


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_written(results, case):
  tmp, done, _ = results
  name, _, _, _, flag = case
  process = done[name]
  lines = [line for line in process.stderr.splitlines() if line.strip()]
  assert process.returncode == 2, process.stderr[-2000:]
  assert "Traceback" not in process.stdout + process.stderr, process.stderr[-2000:]
  assert lines and lines[-1].startswith(f"error: --{flag}: "), process.stderr[-2000:]
  assert not os.path.exists(os.path.join(tmp, "out", name))


def test_a_preloaded_command_answers_as_a_fresh_python_m(results):
  """The fork server changes nothing a command prints or returns (one case, run both ways)."""
  tmp, done, _ = results
  name, _, module, args, _ = CASES[5]
  fresh = subprocess.run(
      [sys.executable, "-m", *command(module, args, os.path.join(tmp, "inputs"),
                                      os.path.join(tmp, "fresh"))],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert (fresh.returncode, fresh.stdout) == (done[name].returncode, done[name].stdout)
  assert fresh.stderr.splitlines()[-1] == done[name].stderr.splitlines()[-1]


def test_default_folders_under_the_repository_are_left_alone(results):
  """A refused run creates nothing in the repository either (e.g. a model cache in runs/)."""
  _, _, created = results
  assert not created, created


def test_inputs_are_left_as_they_were(results, tmp_path):
  """No temporary or partial file appeared beside the inputs (e.g. --out or --save_dir)."""
  tmp, _, _ = results
  make_inputs(str(tmp_path))
  fresh = [os.path.relpath(p, tmp_path) for p in listing(str(tmp_path))]
  used = [os.path.relpath(p, os.path.join(tmp, "inputs"))
          for p in listing(os.path.join(tmp, "inputs"))]
  assert used == fresh



def test_field_checks_name_the_field_and_accept_good_values():
  config = {"width": 3, "hidden": (4, 8), "noise": 0.0}
  cli.check_positive(config, ("width", "hidden"))
  cli.check_non_negative(config, ("noise",))
  for bad, check in (({"width": 0}, cli.check_positive), ({"width": (4, 0)}, cli.check_positive),
                     ({"width": ()}, cli.check_positive), ({"width": True}, cli.check_positive),
                     ({"width": "8"}, cli.check_positive),
                     ({"width": -1e-9}, cli.check_non_negative)):
    with pytest.raises(cli.FlagError) as error:
      check(bad, ("width",))
    assert error.value.flag == "config.width"


def test_input_file_loaders(tmp_path):
  good = np.arange(6.0).reshape(3, 2)
  np.save(tmp_path / "a.npy", good)
  np.testing.assert_array_equal(cli.load_array(str(tmp_path / "a.npy"), "f", (3, 2)), good)
  np.savez(tmp_path / "b.npz", kind="intensity", bias=1.0)
  assert str(cli.load_npz(str(tmp_path / "b.npz"), "f", ("kind",))["kind"]) == "intensity"
  (tmp_path / "c.json").write_text('{"steps": 5}')
  assert cli.load_json(str(tmp_path / "c.json"), "f", ("steps",)) == {"steps": 5}
  io.save_params(str(tmp_path / "d.msgpack"), {"w": np.ones(2)})
  cli.check_params_file(str(tmp_path / "d.msgpack"), "f")
  np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]]))
  (tmp_path / "e.msgpack").write_bytes(b"\xc1")
  bad_calls = [
      lambda: cli.load_array(str(tmp_path / "a.npy"), "f", (2, 3)),
      lambda: cli.load_array(str(tmp_path / "nan.npy"), "f", (1, 2)),
      lambda: cli.load_array(str(tmp_path / "c.json"), "f", (1,)),
      lambda: cli.load_npz(str(tmp_path / "b.npz"), "f", ("weights",)),
      lambda: cli.load_npz(str(tmp_path / "a.npy"), "f"),
      lambda: cli.load_json(str(tmp_path / "c.json"), "f", ("spacing",)),
      lambda: cli.load_json(str(tmp_path / "a.npy"), "f"),
      lambda: cli.check_params_file(str(tmp_path / "e.msgpack"), "f"),
      lambda: cli.check_params_file(str(tmp_path / "absent.msgpack"), "f"),
      lambda: cli.check_folder(str(tmp_path / "a.npy"), "f"),
      lambda: cli.check_folder(str(tmp_path / "a.npy" / "sub"), "f"),
  ]
  for call in bad_calls:
    with pytest.raises(cli.FlagError) as error:
      call()
    assert error.value.flag == "f" and "\n" not in str(error.value)
  cli.check_folder(str(tmp_path / "new" / "deeper"), "f")
  assert not (tmp_path / "new").exists()


if __name__ == "__main__":
  import tempfile  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as scratch:
    outcome = run_all(scratch)
    print("| # | bad input | entry point | arguments | error line (stderr) | exit |")
    print("|---|---|---|---|---|---|")
    for i, (name, what, module, args, _) in enumerate(CASES, 1):
      process = outcome[name]
      last = [line for line in process.stderr.splitlines() if line.strip()][-1]
      shown = " ".join(args).replace("{in}/", "").replace("|", "\\|")
      last = last.replace(scratch + "/inputs/", "").replace(scratch + "/out/", "").replace(
          "|", "\\|")
      print(f"| {i} | {what} | `{module}` | `{shown}` | `{last}` | {process.returncode} |")

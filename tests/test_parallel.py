"""Many devices: each method's step on eight devices gives the numbers of one.

``tests/parallel_steps.py`` runs one step of every method at tiny sizes, in two fresh processes
(XLA fixes the device count when it starts): one with one CPU device, one with eight
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``). Their outputs must agree to float
tolerance (a mean over devices adds in another order), the populations must come out split over
the eight devices and the parameters whole on each.
"""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from common.infra import parallel

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "tests", "parallel_steps.py")
EIGHT = "--xla_force_host_platform_device_count=8"
METHODS = ("implicit_diffusion", "adjoint", "dikl", "dxmi", "reward_guidance")
# Number of distinct shares on eight devices: populations split, parameters and buffers whole.
SHARES = {
    "implicit_diffusion/sharded/particles": 8, "implicit_diffusion/sharded/theta": 1,
    "adjoint/sharded/paths": 8, "adjoint/sharded/buffer": 1, "adjoint/sharded/params": 1,
    "dikl/sharded/samples": 8,
    "dxmi/sharded/trajectory": 8,
    "reward_guidance/sharded/samples": 8,
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """{1: outputs on one device, 8: on eight}; the two processes run side by side."""
  folder = tmp_path_factory.mktemp("parallel")
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env.update(JAX_PLATFORMS="cpu", PYTHONPATH=REPO)
  processes = {}
  for devices in (1, 8):
    flags = {"XLA_FLAGS": EIGHT} if devices == 8 else {}
    processes[devices] = subprocess.Popen(
        [sys.executable, SCRIPT, str(folder / f"{devices}.npz")], cwd=REPO, env={**env, **flags},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  for devices, process in processes.items():
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, f"{devices} device(s):\n{output}"
  return {devices: dict(np.load(folder / f"{devices}.npz")) for devices in processes}


def test_the_processes_have_the_devices_and_an_auto_mesh(runs):
  assert int(runs[1]["devices"]) == 1 and int(runs[8]["devices"]) == 8
  assert str(runs[8]["mesh_axis_types"]) == "(Auto,)"


@pytest.mark.parametrize("method", METHODS)
def test_eight_devices_give_the_numbers_of_one(runs, method):
  names = [k for k in runs[1] if k.startswith(f"{method}/") and "/sharded/" not in k]
  assert names
  for name in names:
    one, eight = runs[1][name], runs[8][name]
    scale = max(1.0, float(np.max(np.abs(one)))) if one.size else 1.0
    np.testing.assert_allclose(eight, one, rtol=1e-4, atol=1e-6 * scale, err_msg=name)


@pytest.mark.parametrize("method", METHODS)
def test_populations_are_split_over_the_eight_devices(runs, method):
  expected = {k: v for k, v in SHARES.items() if k.startswith(f"{method}/")}
  assert expected
  for name, shares in expected.items():
    assert int(runs[8][name]) == shares, name
    assert int(runs[1][name]) == 1, name


def test_the_loop_carry_keeps_its_layout(runs):
  """Implicit Diffusion's chunk runner, called twice on eight devices, compiled once."""
  assert int(runs[8]["implicit_diffusion/compilations"]) == 1


def test_an_uneven_population_is_an_error_naming_the_field(runs):
  assert str(runs[1]["batch_error"]) == ""
  message = str(runs[8]["batch_error"])
  assert message.startswith("config.n_paths: 17 is not a multiple of the device count 8")


def test_entry_point_rejects_an_uneven_batch_before_creating_anything(run_module, tmp_path,
                                                                      monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", EIGHT)
  result = run_module("implicit_diffusion.main", "--bs=1001", "--steps=1",
                      f"--file_path={tmp_path}", "--expe_name=uneven")
  assert result.returncode == 2
  assert result.stderr.strip() == (
      "error: --bs: 1001 is not a multiple of the device count 8 (the global batch is split "
      "evenly over the devices)")
  assert not os.path.exists(tmp_path / "uneven")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_join_one_mesh_and_write_the_single_process_samples(run_module, tmp_path,
                                                                           monkeypatch):
  """A multi-host launch on one machine: two processes of two CPU devices each, joined through
  JAX_COORDINATOR_ADDRESS (``jax.distributed.initialize``), run Implicit Diffusion over the four
  devices and both write the samples of a plain one-device run."""
  command = ["implicit_diffusion.main", "--steps=5", "--print_every=5", "--expe_name=run"]

  def launch(*args):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", DIFFSAMPLERS_XLA_CACHE="", PYTHONPATH=REPO,
               XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_COORDINATOR_ADDRESS=f"localhost:{_free_port()}", JAX_NUM_PROCESSES="2")
    processes = [subprocess.Popen(
        [sys.executable, "-m", *command, *args, f"--file_path={tmp_path / str(i)}"], cwd=REPO,
        env={**env, "JAX_PROCESS_ID": str(i)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    return [(process.returncode, *output) for process, output in zip(processes, outputs)]

  # The mesh spans both processes: 18 particles split over 2 devices, not over 4.
  for returncode, _, stderr in launch("--bs=18"):
    assert returncode == 2 and "not a multiple of the device count 4" in stderr, stderr
  for returncode, stdout, stderr in launch("--bs=16"):
    assert returncode == 0, stdout + stderr
  single = run_module(*command, "--bs=16", f"--file_path={tmp_path / 'single'}")
  assert single.returncode == 0, single.stderr
  expected = np.load(tmp_path / "single" / "run" / "samples.npy")
  for i in range(2):
    np.testing.assert_allclose(np.load(tmp_path / str(i) / "run" / "samples.npy"), expected,
                               rtol=1e-5, atol=1e-5)


_LAUNCH_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID",
                     "SLURM_JOB_ID", "SLURM_NTASKS", "OMPI_MCA_orte_hnp_uri",
                     "OMPI_COMM_WORLD_SIZE")


@pytest.mark.parametrize("variables, expected", [
    ({}, False),
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1"}, False),  # a one-task job: one process
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"}, True),
    ({"OMPI_MCA_orte_hnp_uri": "x", "OMPI_COMM_WORLD_SIZE": "2"}, True),
    ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "2"}, True),
    ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "1"}, False),
])
def test_multi_host_launch_is_read_from_the_environment(monkeypatch, variables, expected):
  for name in _LAUNCH_VARIABLES:
    monkeypatch.delenv(name, raising=False)
  for name, value in variables.items():
    monkeypatch.setenv(name, value)
  assert parallel.multi_host_launch() is expected


@pytest.mark.parametrize("process_id", [None, "", "one", "2", "-1"])
def test_a_coordinator_launch_requires_a_valid_process_id(monkeypatch, process_id):
  """Read as 0, a missing JAX_PROCESS_ID would have every process claim to be process 0."""
  for name in _LAUNCH_VARIABLES:
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
  monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
  if process_id is not None:
    monkeypatch.setenv("JAX_PROCESS_ID", process_id)
  calls = []
  monkeypatch.setattr(parallel.jax.distributed, "initialize", lambda **kw: calls.append(kw))
  with pytest.raises(parallel.LaunchError, match="JAX_PROCESS_ID must be .* 0 to 1"):
    parallel.initialize_distributed()
  assert not calls
  monkeypatch.setenv("JAX_PROCESS_ID", "1")
  assert parallel.initialize_distributed()
  assert calls == [{"num_processes": 2, "process_id": 1}]


def test_entry_point_reports_a_missing_process_id_in_one_line(run_module, monkeypatch):
  for name in _LAUNCH_VARIABLES:
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", f"localhost:{_free_port()}")
  monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
  done = run_module("common.compare", "--expe_names=a", timeout=60)
  lines = [line for line in done.stderr.splitlines() if line.strip()]
  assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
  assert lines[-1].startswith("error: JAX_PROCESS_ID must be"), done.stderr[-2000:]


def test_cpu_cores_are_split_into_as_many_devices_as_divide_the_batches(monkeypatch):
  monkeypatch.setattr(os, "cpu_count", lambda: 6)
  monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
  parallel.use_all_cpu_cores(512, 256, 1000)
  assert os.environ["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=4"
  monkeypatch.setenv("XLA_FLAGS", EIGHT)  # an explicit count is kept
  parallel.use_all_cpu_cores(3)
  assert os.environ["XLA_FLAGS"] == EIGHT

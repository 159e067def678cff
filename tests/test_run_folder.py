"""One run per output folder (``common.infra.run_folder``), through ``python -m adjoint.adjoint``.

A second run into a folder that a live run holds is refused with one line and exit status 2,
the first run's checkpoints untouched; after the holder is killed with SIGKILL, its lock is
stale and the next run takes the folder over and resumes.
"""

import os
import signal
import subprocess
import sys
import time

from common.training import checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tiny Adjoint Sampling on the GMM: a checkpoint after every epoch, far more epochs than needed.
TINY = ["--energy=gmm", "--config.num_epochs=400", "--config.checkpoint_every=1",
        "--config.chunk_size=1", "--config.n_paths=16", "--config.buffer_size=32",
        "--config.batch_size=16", "--config.n_inner_loop=1", "--config.num_steps=4",
        "--config.hidden_sizes=(8,)", "--config.num_samples=16"]


def _command(folder, *extra):
  return [sys.executable, "-m", "adjoint.adjoint", *TINY, f"--file_path={folder.parent}",
          f"--expe_name={folder.name}", *extra]


def _environment(tmp_path):
  return dict(os.environ, JAX_PLATFORMS="cpu", DIFFSAMPLERS_XLA_CACHE=str(tmp_path / "cache"))


def _checkpoint_files(folder):
  """{relative path: bytes} of every file under the run's checkpoints."""
  root = folder / checkpoint.CHECKPOINTS
  return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _stop_after_first_checkpoint(process, folder):
  """Freezes ``process`` (SIGSTOP) once its first checkpoint is complete."""
  checkpoints = folder / checkpoint.CHECKPOINTS
  deadline = time.monotonic() + 240
  # orbax renames a checkpoint's temporary folder to its step number once it is complete.
  while not (checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
    assert process.poll() is None, "the run ended before its first checkpoint"
    assert time.monotonic() < deadline, "no checkpoint within the time limit"
    time.sleep(0.02)
  process.send_signal(signal.SIGSTOP)


def test_second_run_is_refused_and_a_killed_runs_folder_is_taken_over(tmp_path):
  folder = tmp_path / "runs" / "gmm"
  environment = _environment(tmp_path)
  first = subprocess.Popen(_command(folder), cwd=REPO, env=environment,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    _stop_after_first_checkpoint(first, folder)
    before = _checkpoint_files(folder)
    second = subprocess.run(_command(folder), cwd=REPO, env=environment, capture_output=True,
                            text=True, timeout=300, check=False)
    assert second.returncode == 2, second.stderr[-3000:]
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr[-3000:]
    assert lines[0].startswith("error: --expe_name: "), lines
    assert f"in use by process {first.pid}" in lines[0], lines
    assert _checkpoint_files(folder) == before  # the refused run deleted and wrote nothing
    first.send_signal(signal.SIGKILL)
  finally:
    first.kill()
    first.wait()

  done = max(int(p.name) for p in (folder / checkpoint.CHECKPOINTS).iterdir()
             if p.name.isdigit())
  resumed = subprocess.run(_command(folder, "--resume", f"--config.num_epochs={done + 2}"),
                           cwd=REPO, env=environment, capture_output=True, text=True,
                           timeout=300, check=False)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"resumed from epoch {done}" in resumed.stdout
  assert (folder / "samples.npy").exists()

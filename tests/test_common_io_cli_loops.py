"""Atomic writes, output folders and flag errors, and chunked scans."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.infra import cli
from common.infra import io
from common.training import loops


def test_atomic_writers_round_trip_and_leave_no_temporary(tmp_path):
  io.save_npy(str(tmp_path / "a.npy"), jnp.arange(5.0))
  io.save_json(str(tmp_path / "m.json"), {"x": np.float32(1.5), "v": np.arange(3)})
  paths = io.save_histories(str(tmp_path), {"reward": np.ones(4)}, suffix="_seeds")
  np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.arange(5.0))
  assert json.loads((tmp_path / "m.json").read_text()) == {"v": [0, 1, 2], "x": 1.5}
  assert paths == [str(tmp_path / "hist_reward_seeds.npy")]
  assert sorted(os.listdir(tmp_path)) == ["a.npy", "hist_reward_seeds.npy", "m.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
  path = str(tmp_path / "m.json")
  io.save_json(path, {"ok": 1})
  with pytest.raises(TypeError):
    io.save_json(path, {"bad": object()})
  assert json.loads(open(path).read()) == {"ok": 1}
  assert os.listdir(tmp_path) == ["m.json"]


def test_atomic_writes_get_the_mode_of_a_plain_open(tmp_path):
  with open(tmp_path / "plain.json", "w") as f:
    f.write("{}")
  io.save_json(str(tmp_path / "atomic.json"), {})
  io.save_npy(str(tmp_path / "atomic.npy"), np.zeros(2))
  plain = os.stat(tmp_path / "plain.json").st_mode
  assert os.stat(tmp_path / "atomic.json").st_mode == plain  # e.g. 0644, not mkstemp's 0600
  assert os.stat(tmp_path / "atomic.npy").st_mode == plain


def test_make_output_dir_creates_nested_folders(tmp_path):
  folder = cli.make_output_dir(str(tmp_path / "a" / "b"), "expe")
  assert os.path.isdir(folder) and folder == os.path.join(str(tmp_path / "a" / "b"), "expe")


@pytest.mark.parametrize("file_path, expe_name, flag", [
    ("FILE/sub", "expe", "file_path"),
    ("", "expe", "file_path"),
    (".", "..", "expe_name"),
    (".", "FILE", "expe_name"),
])
def test_make_output_dir_rejects_unusable_paths(tmp_path, file_path, expe_name, flag):
  a_file = tmp_path / "FILE"
  a_file.write_text("not a folder")
  file_path = str(tmp_path) if file_path == "." else file_path.replace("FILE", str(a_file))
  with pytest.raises(cli.FlagError) as error:
    cli.make_output_dir(file_path, expe_name)
  assert error.value.flag == flag


def test_progress_line(capsys):
  progress = cli.Progress(10)
  progress(5, reward=0.25)
  line = capsys.readouterr().out.strip()
  assert line.startswith("step 5/10 | reward 0.2500 |") and "ETA" in line


def test_scan_in_chunks_equals_one_scan_and_reports_each_chunk():
  def step(carry):
    key, x = carry
    key, sub = jax.random.split(key)
    x = 0.9 * x + jax.random.normal(sub)
    return (key, x), {"x": x, "sq": x**2}

  carry = (jax.random.key(0), jnp.float32(0.0))
  _, whole = jax.lax.scan(lambda c, _: step(c), carry, None, length=10)
  seen = []
  final, chunked = loops.scan_in_chunks(
      loops.make_chunk_runner(step), carry, 10, 4, on_chunk=lambda n, out: seen.append(
          (n, out["x"].shape[0])))
  assert seen == [(4, 4), (8, 4), (10, 2)]
  np.testing.assert_allclose(chunked["x"], whole["x"], rtol=1e-6)
  np.testing.assert_allclose(final[1], whole["x"][-1], rtol=1e-6)
  with pytest.raises(ValueError):
    loops.scan_in_chunks(loops.make_chunk_runner(step), carry, 0, 4)


def test_compare_overlays_histories_and_rejects_missing_runs(run_module, tmp_path):
  for name, values in (("a", np.linspace(0, 1, 7)), ("b", np.ones((7, 3)))):
    (tmp_path / name).mkdir()
    np.save(tmp_path / name / "hist_reward.npy", values)
  out = tmp_path / "cmp.png"
  done = run_module("common.compare", f"--file_path={tmp_path}", "--expe_names=a,b",
                    f"--out={out}")
  assert done.returncode == 0, done.stderr
  assert out.read_bytes()[:4] == b"\x89PNG"
  missing = run_module("common.compare", f"--file_path={tmp_path}", "--expe_names=a,zzz")
  assert missing.returncode == 2 and "zzz" in missing.stderr


def test_compare_reports_an_empty_history_file_in_one_line(run_module, tmp_path):
  (tmp_path / "a").mkdir()
  (tmp_path / "a" / "hist_reward.npy").write_bytes(b"")  # e.g. a run killed while writing
  done = run_module("common.compare", f"--file_path={tmp_path}", "--expe_names=a")
  lines = [line for line in done.stderr.splitlines() if line.strip()]
  assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
  assert lines[-1].startswith("error: --expe_names: ") and "hist_reward.npy" in lines[-1]


@pytest.mark.parametrize("args, flag", [(["--repeats=0"], "repeats"),
                                        (["--quick", "--paths=0"], "paths")])
def test_benchmark_runner_rejects_bad_counts_in_one_line(args, flag):
  script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "benchmarks", "run.py")
  done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"), timeout=120, check=False)
  lines = [line for line in done.stderr.splitlines() if line.strip()]
  assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
  assert lines[-1].startswith(f"error: --{flag}: must be at least 1"), done.stderr[-2000:]


def test_scan_in_blocks_sees_the_carry_between_blocks_and_matches_one_scan():
  advance = loops.make_chunk_runner(lambda c: (c + 1, c))
  seen, chunks = [], []
  carry, outputs = loops.scan_in_blocks(
      advance, jnp.int32(0), 10, 4, 3, on_chunk=lambda n, out: chunks.append(n),
      on_block=lambda n, c, out: seen.append((n, int(c), out.shape[0])))
  assert int(carry) == 10 and outputs.tolist() == list(range(10))
  assert seen == [(4, 4, 4), (8, 8, 4), (10, 10, 2)]
  assert chunks == [3, 4, 7, 8, 10]

"""Checkpoints (``common.training.checkpoint``): a run killed with SIGKILL and resumed ends with the same
bits as an uninterrupted one (DiKL's quick preset, Adjoint Sampling, ASBS, DxMI's digits
fine-tuning and the reward predictor, shrunk to seconds), and a diverging run stops with a one-line error naming the step
and the quantity, exit status 1, its last checkpoint finite."""

import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common.infra import cli
from common.training import checkpoint
from common.training import fitting
from common.training import loops

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The quick preset with smaller batches and inner loops; 24 iterations in blocks of 3.
DIKL = ["dikl.train", "--target=mog", "--preset=quick", "--config.num_iterations=24",
        "--config.checkpoint_every=3", "--config.chunk_size=3", "--config.batch_size=64",
        "--config.score_batch_size=64", "--config.score_steps=2", "--config.mala_steps=2",
        "--config.num_samples=256"]
ADJOINT = ["adjoint.adjoint", "--energy=gmm", "--config.num_epochs=24",
           "--config.checkpoint_every=3", "--config.chunk_size=3", "--config.n_paths=64",
           "--config.buffer_size=256", "--config.batch_size=32", "--config.n_inner_loop=2",
           "--config.num_steps=20", "--config.hidden_sizes=(32,32)", "--config.num_samples=256"]
# Two ASBS stages of 6 adjoint-matching and 3 corrector epochs: 18 epochs in blocks of 3.
ASBS = ["adjoint.asbs"] + [arg for arg in ADJOINT[2:] if "num_epochs" not in arg] + [
    "--config.num_stages=2", "--config.adjoint_epochs=6", "--config.corrector_epochs=3",
    "--config.corrector_hidden_sizes=(32,32)"]


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
  """The subprocesses' environment: one compilation cache shared by this module's runs."""
  return dict(os.environ, JAX_PLATFORMS="cpu",
              DIFFSAMPLERS_XLA_CACHE=str(tmp_path_factory.mktemp("xla_cache")))


def run_command(args, folder):
  return [sys.executable, "-m", *args, f"--file_path={folder.parent}",
          f"--expe_name={folder.name}"]


def _run(args, folder, environment, *extra):
  done = subprocess.run(run_command(args, folder) + list(extra), cwd=REPO, env=environment,
                        capture_output=True, text=True, timeout=300, check=False)
  return done


def kill_after_first_checkpoint(args, folder, environment):
  """Starts the run, SIGKILLs it as soon as a complete checkpoint exists; returns the steps of
  the checkpoints left."""
  process = subprocess.Popen(run_command(args, folder), cwd=REPO, env=environment,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  checkpoints = folder / checkpoint.CHECKPOINTS
  deadline = time.monotonic() + 240
  try:
    # orbax renames a checkpoint's temporary folder to its step number once it is complete.
    while not (checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
      assert process.poll() is None, "the run ended before its first checkpoint"
      assert time.monotonic() < deadline, "no checkpoint within the time limit"
      time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
  finally:
    process.kill()
    returncode = process.wait()
  assert returncode == -signal.SIGKILL, "the run finished before it could be killed"
  return sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())


def _assert_same_final_state(a, b, outputs=("samples.npy",)):
  step_a, state_a, hist_a = checkpoint.read_latest(str(a))
  step_b, state_b, hist_b = checkpoint.read_latest(str(b))
  assert step_a == step_b
  leaves_a, leaves_b = jax.tree.leaves(state_a), jax.tree.leaves(state_b)
  assert len(leaves_a) == len(leaves_b) > 0
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y)  # parameters, optimiser state, buffer, key: every bit
  assert hist_a.keys() == hist_b.keys()
  for name in hist_a:
    np.testing.assert_array_equal(hist_a[name], hist_b[name])
  for name in outputs:
    np.testing.assert_array_equal(np.load(a / name), np.load(b / name))


@pytest.mark.parametrize("args, total, final_params", [
    (DIKL, 24, "generator.msgpack"), (ADJOINT, 24, None), (ASBS, 18, None)],
    ids=["dikl_quick", "adjoint", "asbs"])
def test_killed_run_resumes_bit_for_bit(environment, tmp_path, args, total, final_params):
  whole = _run(args, tmp_path / "whole", environment)
  assert whole.returncode == 0, whole.stderr[-3000:]

  left = kill_after_first_checkpoint(args, tmp_path / "killed", environment)
  assert left and max(left) < total, left
  assert not (tmp_path / "killed" / "samples.npy").exists()
  resumed = _run(args, tmp_path / "killed", environment, "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"resumed from {'iteration' if args is DIKL else 'epoch'} {max(left)}" in resumed.stdout

  _assert_same_final_state(tmp_path / "whole", tmp_path / "killed")
  if final_params is not None:
    assert ((tmp_path / "whole" / final_params).read_bytes()
            == (tmp_path / "killed" / final_params).read_bytes())


def test_killed_reward_predictor_training_resumes_bit_for_bit(environment, tmp_path):
  # The pixel-intensity reward needs no classifier, so the dataset takes seconds.
  models = f"--config.model_dir={tmp_path / 'models'}"
  dataset = _run(["reward_guidance.fake_dataset", "--config.reward=intensity", models],
                 tmp_path / "dataset", environment)
  assert dataset.returncode == 0, dataset.stderr[-3000:]
  args = ["reward_guidance.train", f"--dataset_dir={tmp_path / 'dataset'}", models,
          "--config.train_steps=24", "--config.checkpoint_every=3", "--config.chunk_size=3"]
  whole = _run(args, tmp_path / "whole", environment)
  assert whole.returncode == 0, whole.stderr[-3000:]

  left = kill_after_first_checkpoint(args, tmp_path / "killed", environment)
  assert left and max(left) < 24, left
  assert not (tmp_path / "killed" / "predictor.msgpack").exists()
  resumed = _run(args, tmp_path / "killed", environment, "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"resumed from step {max(left)}" in resumed.stdout

  _assert_same_final_state(tmp_path / "whole", tmp_path / "killed", ("hist_loss.npy",))
  assert ((tmp_path / "whole" / "predictor.msgpack").read_bytes()
          == (tmp_path / "killed" / "predictor.msgpack").read_bytes())


def test_dxmi_killed_run_resumes_bit_for_bit(environment, tmp_path):
  """DxMI on digits (a 50-step DDPM, 24 iterations, an evaluation and checkpoint every 3): the
  checkpoint holds the best sampler with the state, so the resumed run ends with the same bits."""
  args = ["dxmi.train", f"--config.model_dir={tmp_path / 'models'}", "--config.ddpm_steps=50",
          "--config.iterations=24", "--config.evaluate_every=3", "--config.chunk_size=3",
          "--config.num_eval=64", "--config.batch_size=32", "--config.buffer_capacity=640"]
  whole = _run(args, tmp_path / "whole", environment)
  assert whole.returncode == 0, whole.stderr[-3000:]

  left = kill_after_first_checkpoint(args, tmp_path / "killed", environment)
  assert left and max(left) < 24, left
  resumed = _run(args, tmp_path / "killed", environment, "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"resumed from iteration {max(left)}" in resumed.stdout

  _assert_same_final_state(tmp_path / "whole", tmp_path / "killed")
  for name in ("sampler.msgpack", "energy.msgpack", "hist_eval.npy"):
    assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "killed" / name).read_bytes()


def test_divergence_stops_with_one_line_and_keeps_the_last_finite_checkpoint(environment,
                                                                              tmp_path):
  # Adam at 1e6 takes parameter steps of ~1e6: epoch 1's loss is huge but finite (checkpointed),
  # epoch 2 overflows.
  folder = tmp_path / "diverged"
  done = _run(ADJOINT, folder, environment, "--config.learning_rate=1e6",
              "--config.checkpoint_every=1", "--config.chunk_size=1")
  assert done.returncode == 1, done.stderr[-3000:]
  errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and done.stderr.rstrip().endswith(errors[0]), done.stderr[-3000:]
  assert "epoch 2: loss is" in errors[0] and "last good checkpoint is epoch 1" in errors[0]
  assert not (folder / "samples.npy").exists()
  step, state, histories = checkpoint.read_latest(str(folder))
  assert step == 1
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(state)
             if np.issubdtype(leaf.dtype, np.floating))
  assert np.isfinite(histories["loss"]).all() and histories["loss"].shape == (1,)


def test_train_in_blocks_never_saves_a_non_finite_state(tmp_path):
  """x ← 10 x in float32 overflows at step 39; the state of step 36 is the last one saved."""
  manager = checkpoint.manager(str(tmp_path), resume=False)
  advance = loops.make_chunk_runner(lambda x: (10.0 * x, {"x": 10.0 * x}))
  with pytest.raises(checkpoint.NonFiniteError, match=r"step 39: x is inf; stopped; the last "
                     r"good checkpoint is step 36"):
    checkpoint.train_in_blocks(advance, jnp.float32(1.0), manager, {}, num_steps=60,
                               block_size=4, chunk_size=2)
  step, state, histories = checkpoint.restore_latest(manager, jnp.float32(0.0))
  assert step == 36 and float(state) == pytest.approx(1e36, rel=1e-5)
  assert histories["x"].shape == (36,) and np.isfinite(histories["x"]).all()


@pytest.mark.parametrize("done, ends", [(0, [100, 200, 300, 400, 500]), (200, [300, 400, 500]),
                                        (250, [300, 400, 500]), (499, [500])])
def test_blocks_end_at_multiples_of_block_size_also_after_a_resume(done, ends):
  """A run ended at step 250 (its last, shorter block) and extended to 500 with --resume
  checkpoints and evaluates at 300 and 400, where an uninterrupted 500-step run does."""
  advance = loops.make_chunk_runner(lambda count: (count + 1, {"count": count}))
  seen = []
  count, histories = checkpoint.train_in_blocks(
      advance, jnp.int32(done), None, {}, num_steps=500, block_size=100, chunk_size=30,
      done=done, on_block=lambda steps, carry: seen.append((steps, int(carry))))
  assert seen == [(end, end) for end in ends]
  assert int(count) == 500 and histories["count"].tolist() == list(range(done, 500))


def test_restore_latest_round_trips_typed_keys(tmp_path):
  manager = checkpoint.manager(str(tmp_path), resume=False)
  state = (jax.random.key(7), {"w": jnp.arange(3.0)}, jnp.int32(5))
  checkpoint.save(manager, 5, state, {"loss": np.ones(5, np.float32)})
  manager.wait_until_finished()
  template = (jax.random.key(0), {"w": jnp.zeros(3)}, jnp.int32(0))
  step, restored, histories = checkpoint.restore_latest(
      checkpoint.manager(str(tmp_path), resume=True), template)
  assert step == 5
  np.testing.assert_array_equal(jax.random.key_data(restored[0]), jax.random.key_data(state[0]))
  np.testing.assert_array_equal(restored[1]["w"], state[1]["w"])
  assert int(restored[2]) == 5 and histories["loss"].shape == (5,)
  assert checkpoint.manager(str(tmp_path), resume=False).latest_step() is None  # a fresh run


def _saved_run(folder, config):
  """A run folder with ``config.json`` and one checkpoint, as ``--resume`` finds it."""
  manager = checkpoint.manager(str(folder), resume=False)
  checkpoint.save(manager, 3, {"w": jnp.ones(2)}, {"loss": np.ones(3, np.float32)})
  manager.close()
  cli.write_config(str(folder), config)


def test_resume_refuses_a_configuration_that_differs(tmp_path):
  config = {"num_iterations": 10, "learning_rate": 1e-3, "hidden_sizes": (32, 32)}
  _saved_run(tmp_path, config)
  checkpoint.check_resumable(str(tmp_path), config)
  checkpoint.check_resumable(str(tmp_path), {**config, "num_iterations": 20},
                             may_change=("num_iterations",))
  for changed, field in (({"num_iterations": 20}, "num_iterations"),
                         ({"learning_rate": 1e-2}, "learning_rate"),
                         ({"hidden_sizes": (32, 64)}, "hidden_sizes")):
    with pytest.raises(cli.FlagError, match=rf"--resume: .*differs .*\['{field}'\]"):
      checkpoint.check_resumable(str(tmp_path), {**config, **changed})


def test_resume_reports_a_malformed_saved_configuration_as_a_flag_error(tmp_path):
  _saved_run(tmp_path, {"num_iterations": 10})
  (tmp_path / "config.json").write_text("{truncated")
  with pytest.raises(cli.FlagError, match=r"--resume: .*config.json is not readable JSON"):
    checkpoint.check_resumable(str(tmp_path), {"num_iterations": 10})


def test_resume_refuses_a_checkpoint_of_another_structure(tmp_path):
  # E.g. a checkpoint written before a change to the networks' parameters.
  _saved_run(tmp_path, {"num_iterations": 10})
  manager = checkpoint.manager(str(tmp_path), resume=True)
  with pytest.raises(cli.FlagError, match=r"--resume: the checkpoint in .* does not fit"):
    checkpoint.resume(manager, {"renamed": jnp.zeros(2)})
  step, state, _ = checkpoint.resume(manager, {"w": jnp.zeros(2)})
  assert step == 3 and state["w"].tolist() == [1.0, 1.0]


def test_fit_resumes_from_its_checkpoint_bit_for_bit(tmp_path):
  """``common.training.fitting.fit``, which trains the digits DDPM, classifier and reward predictor."""
  data = (np.linspace(0.0, 1.0, 32, dtype=np.float32),)
  loss = lambda p, key, batch: (jnp.mean((batch[0] * p["w"] - 1.0) ** 2)
                                + 0.01 * jax.random.normal(key))

  def fit(folder, num_steps, resume):
    manager = checkpoint.manager(str(folder), resume)
    params, losses = fitting.fit(jax.random.key(0), {"w": jnp.zeros(())}, loss, optax.adam(0.1),
                                 data, batch_size=8, num_steps=num_steps, chunk_size=2,
                                 label=None, ema_decay=0.9, manager=manager, checkpoint_every=4)
    manager.close()
    return params, losses

  whole = fit(tmp_path / "whole", 12, False)
  fit(tmp_path / "split", 8, False)
  resumed = fit(tmp_path / "split", 12, True)
  np.testing.assert_array_equal(resumed[0]["w"], whole[0]["w"])
  np.testing.assert_array_equal(resumed[1], whole[1])
  assert resumed[1].shape == (12,)

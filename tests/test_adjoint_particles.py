"""Adjoint Sampling and ASBS on particle systems (DW-4): equivariant networks, zero centre of mass,
the harmonic prior, per-particle clipping, ASBS from a Dirac prior against Adjoint Sampling, the
entry points' outputs and a killed run resumed bit for bit. Tiny networks and few steps: the
runs learn nothing; what they check is structure and bookkeeping."""

import json
import os
import subprocess

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import particles as adjoint_particles
from adjoint import schedules
from common.infra import run_folder
from common.targets import benchmarks
from common.targets import particles
from common.training import checkpoint
import test_checkpoint_resume as resume  # its kill-after-the-first-checkpoint helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEDULE = schedules.GeometricSchedule(1e-3, 1.5)
_SIZES = dict(num_paths=16, num_steps=8, inner_steps=2, batch_size=8, buffer_capacity=64)
# A tiny DW-4 run through the entry points; 24 epochs in blocks of 3 for the resume test.
_TINY = ["--preset=quick", "--config.checkpoint_every=3", "--config.chunk_size=3",
         "--config.n_paths=32", "--config.buffer_size=256", "--config.batch_size=16",
         "--config.n_inner_loop=2", "--config.num_steps=10", "--config.hidden=8",
         "--config.num_layers=2", "--config.num_samples=64"]
ADJOINT = ["adjoint.adjoint", "--target=dw", "--config.num_epochs=24"] + _TINY


def _field(with_time, seed=0):
  """A small DW-4 field with parameters drawn at O(1), so its output is far from zero."""
  field = adjoint_particles.ParticleField(4, 16, 2, output_bound=45.0)
  params = field.init(jax.random.key(seed), jnp.zeros(()) if with_time else None,
                      jnp.zeros((1, 8)))
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
  return field, jax.tree.unflatten(
      tree, [0.5 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves)])


def _rotation(angle, reflect):
  c, s = np.cos(angle), np.sin(angle)
  return np.array([[c, -s], [s, c]]) @ np.diag([1.0, -1.0 if reflect else 1.0])


def _transform(x, rotation, order):
  """x (N, 8) with each configuration's particles rotated and put in ``order``."""
  p = np.asarray(x).reshape(-1, 4, 2) @ rotation.T
  return p[:, order].reshape(-1, 8)


@pytest.mark.parametrize("with_time", [True, False], ids=["control", "corrector"])
def test_the_networks_are_rotation_and_permutation_equivariant_and_centred(with_time, x64):
  """In float64, to 1e-5: in float32 the outputs (up to ~40) agree to about 1e-6 relative."""
  field, params = _field(with_time)
  x = particles.remove_centre_of_mass(
      1.5 * jax.random.normal(jax.random.key(2), (6, 8), jnp.float64), 4)
  t = jnp.linspace(0.05, 0.95, 6, dtype=jnp.float64) if with_time else None
  out = np.asarray(field.apply(params, t, x))
  assert np.abs(out).max() > 0.1  # not the near-zero output of the initialisation
  np.testing.assert_allclose(out.reshape(-1, 4, 2).mean(1), 0.0, atol=1e-5)
  for angle, reflect, order in ((0.7, False, [0, 1, 2, 3]), (2.1, True, [2, 0, 3, 1]),
                                (0.0, False, [3, 2, 1, 0])):
    rotation = _rotation(angle, reflect)
    moved = np.asarray(field.apply(params, t, _transform(x, rotation, order)))
    np.testing.assert_allclose(moved, _transform(out, rotation, order), atol=1e-5)


def test_per_particle_clipping_keeps_directions_and_survives_overflow():
  grad = jnp.array([[3.0, 4.0, 300.0, 400.0, 0.0, 0.0, jnp.inf, 1.0]])
  clipped = np.asarray(adjoint_particles.clip_per_particle(grad, 4, 100.0)).reshape(4, 2)
  np.testing.assert_allclose(clipped, [[3, 4], [60, 80], [0, 0], [100, 0]], rtol=1e-5, atol=1e-5)
  assert np.isfinite(clipped).all()


def test_the_harmonic_prior_is_the_published_construction_centred():
  """The papers' prior: N(0, s² |R⁻¹|), R = (1.5 I − 0.5 11ᵀ) ⊗ I_k, then centred; on the
  zero-centre-of-mass subspace that is (2/3) s² P, which ``harmonic_prior`` draws."""
  n, k, scale = 4, 2, 2.0
  bonds = np.kron(1.5 * np.eye(n) - 0.5 * np.ones((n, n)), np.eye(k))
  u, singular, _ = np.linalg.svd(np.linalg.inv(bonds))
  centring = np.kron(np.eye(n) - np.ones((n, n)) / n, np.eye(k))
  published = centring @ (u * singular) @ u.T @ centring * scale**2
  np.testing.assert_allclose(published, 2.0 / 3.0 * scale**2 * centring, atol=1e-12)
  draws = np.asarray(adjoint_particles.harmonic_prior(n, n * k, scale)(jax.random.key(0), 100_000))
  np.testing.assert_allclose(draws.reshape(-1, n, k).mean(1), 0.0, atol=1e-5)
  np.testing.assert_allclose(np.cov(draws.T), published, atol=0.05)


def _adjoint_sampler(field):
  return adjoint_sampling.adjoint_sampler(
      control=field, target=benchmarks.get_target("dw"), schedule=SCHEDULE,
      optimizer=optax.adam(1e-3), max_adjoint_norm=100.0, **_SIZES)


def test_adjoint_sampling_keeps_the_centre_of_mass_at_zero():
  sampler = _adjoint_sampler(adjoint_particles.ParticleField(4, 8, 2, output_bound=45.0))
  state, _ = jax.jit(sampler.step)(jax.random.key(1), sampler.init(jax.random.key(0)))
  for name, x in (("buffer X₁", state.buffer.data.x1[:16]),
                  ("buffer adjoint", state.buffer.data.adjoint[:16]),
                  ("samples", sampler.sample(jax.random.key(2), state.sampling_params, 64))):
    centres = np.asarray(x).reshape(-1, 4, 2).mean(1)
    assert np.abs(centres).max() < 1e-5, name
  assert np.abs(np.asarray(state.buffer.data.x1[:16])).max() > 0.1


class _BaseProcessCorrector(nn.Module):
  """h(x) = −x/σ̄², the exact corrector from X₀ = 0 (the corrector target −(X₁ − X₀)/σ̄²)."""
  schedule: schedules.GeometricSchedule

  def __call__(self, unused_t, x):
    return -x / self.schedule.terminal_variance


def test_asbs_from_a_dirac_prior_is_adjoint_sampling():
  """From X₀ = 0 the corrector's optimum is −x/σ̄², with which ASBS's adjoint ∇E + h is
  Adjoint Sampling's ∇E − x/σ̄²: with that corrector and the same keys, ASBS's adjoint-matching
  epochs give Adjoint Sampling's numbers, and corrector matching has nothing left to fit."""
  field = adjoint_particles.ParticleField(4, 8, 2, output_bound=45.0)
  adjoint = _adjoint_sampler(field)
  asbs = asbs_training.asbs_sampler(
      control=field, corrector=_BaseProcessCorrector(SCHEDULE),
      target=benchmarks.get_target("dw"), schedule=SCHEDULE, optimizer=optax.adam(1e-3),
      corrector_optimizer=optax.adam(1e-3),
      sample_prior=adjoint_particles.make_prior("dirac", n_particles=4, dim=8, scale=1.0),
      max_adjoint_norm=100.0, **_SIZES)
  state_as = adjoint.init(jax.random.key(0))
  state_asbs = asbs.init(jax.random.key(0))._replace(control=state_as)
  step_as, step_asbs = jax.jit(adjoint.step), jax.jit(asbs.step)
  phase = jnp.asarray(asbs_training.Phase.ADJOINT, jnp.int32)
  for i in range(3):
    state_as, info_as = step_as(jax.random.key(10 + i), state_as)
    state_asbs, info_asbs = step_asbs(jax.random.key(10 + i), state_asbs, phase)
    for a, b in zip(jax.tree.leaves((state_as, info_as)),
                    jax.tree.leaves((state_asbs.control, info_asbs))):
      np.testing.assert_array_equal(a, b)
  _, info = step_asbs(jax.random.key(20), state_asbs,
                      jnp.asarray(asbs_training.Phase.CORRECTOR, jnp.int32))
  assert float(info.loss) < 1e-8


def _check_run(folder, method, shapes, metric_keys):
  for name, shape in shapes.items():
    array = np.load(folder / name)
    assert array.shape == shape and np.all(np.isfinite(array)), (name, array.shape)
  samples = np.load(folder / "samples.npy")
  assert np.abs(samples.reshape(-1, 4, 2).mean(1)).max() < 1e-5
  metrics = json.loads((folder / "metrics.json").read_text())
  assert set(metric_keys) <= metrics.keys(), metrics.keys()
  assert all(np.isfinite(metrics[key]) for key in metric_keys), metrics
  assert (folder / f"{method}_dw.png").read_bytes()[:4] == b"\x89PNG"
  assert not [f for f in os.listdir(folder) if f.startswith(".") and f != run_folder.LOCK_FILE]
  assert os.listdir(folder / "checkpoints")
  return json.loads((folder / "config.json").read_text())


def test_adjoint_sampling_on_dw4_writes_every_output_and_scores_a_reference(run_module,
                                                                              tmp_path):
  reference = np.asarray(particles.remove_centre_of_mass(
      2.0 * jax.random.normal(jax.random.key(0), (80, 8)), 4))
  np.save(tmp_path / "reference.npy", reference)
  done = run_module(*ADJOINT[:2], "--config.num_epochs=6", *_TINY, f"--file_path={tmp_path}",
                    f"--reference={tmp_path / 'reference.npy'}", "--config.eval_repeats=2",
                    timeout=240)
  assert done.returncode == 0, done.stderr[-2000:]
  config = _check_run(
      tmp_path / "adjoint_dw_quick", "adjoint",
      {"hist_loss.npy": (6,), "hist_mean.npy": (6, 8), "hist_std.npy": (6, 8),
       "samples.npy": (64, 8)},
      ("energy_mean", "w2_mean", "aligned_w2_mean", "energy_w2_mean", "dist_tvd_mean",
       "dist_w2_mean", "wall_time_s"))
  assert config["target"] == "dw" and config["preset"] == "quick" and config["hidden"] == 8
  assert config["reference"].endswith("reference.npy")
  # Each epoch: ∇E at its new endpoints; the control along every path step, then on each
  # regression batch.
  metrics = json.loads((tmp_path / "adjoint_dw_quick" / "metrics.json").read_text())
  paths, steps = config["n_paths"], config["num_steps"]
  assert metrics["energy_evaluations"] == 6 * paths
  assert metrics["model_evaluations"] == 6 * (paths * steps
                                               + config["n_inner_loop"] * config["batch_size"])
  assert metrics["sampling_time_s"] > 0


def test_asbs_on_dw4_writes_every_output(run_module, tmp_path):
  done = run_module("adjoint.asbs", "--target=dw", *_TINY, f"--file_path={tmp_path}",
                    "--expe_name=asbs", "--config.num_stages=2", "--config.adjoint_epochs=3",
                    "--config.corrector_epochs=3", "--config.corrector_hidden=8",
                    "--config.corrector_num_layers=2", timeout=240)
  assert done.returncode == 0, done.stderr[-2000:]
  config = _check_run(
      tmp_path / "asbs", "asbs",
      {"hist_loss.npy": (6,), "hist_mean.npy": (6, 8), "hist_corrector_loss.npy": (2, 3),
       "samples.npy": (64, 8)},
      ("energy_mean", "corrector_loss_stage_1", "corrector_loss_stage_2", "wall_time_s"))
  assert config["prior"] == "harmonic" and config["num_stages"] == 2
  # Energies in the 2 × 3 adjoint epochs only; the corrector epochs simulate and fit h_φ.
  metrics = json.loads((tmp_path / "asbs" / "metrics.json").read_text())
  paths, steps = config["n_paths"], config["num_steps"]
  epoch = paths * steps + config["n_inner_loop"] * config["batch_size"]
  assert metrics["energy_evaluations"] == 2 * 3 * paths
  assert metrics["model_evaluations"] == 2 * (3 * (epoch + paths) + 3 * epoch)


def test_a_bad_reference_is_refused_before_anything_is_written(run_module, tmp_path):
  np.save(tmp_path / "wrong_dim.npy", np.zeros((10, 39), np.float32))
  done = run_module(*ADJOINT, f"--file_path={tmp_path}", "--expe_name=refused",
                    f"--reference={tmp_path / 'wrong_dim.npy'}", timeout=120)
  assert done.returncode == 2 and "--reference:" in done.stderr, done.stderr[-2000:]
  assert not (tmp_path / "refused").exists()


def test_a_killed_particle_run_resumes_bit_for_bit(tmp_path_factory, tmp_path):
  environment = dict(os.environ, JAX_PLATFORMS="cpu",
                     DIFFSAMPLERS_XLA_CACHE=str(tmp_path_factory.mktemp("xla_cache")))
  run = lambda folder, *extra: subprocess.run(
      resume.run_command(ADJOINT, folder) + list(extra), cwd=REPO, env=environment,
      capture_output=True, text=True, timeout=300, check=False)
  whole = run(tmp_path / "whole")
  assert whole.returncode == 0, whole.stderr[-3000:]
  left = resume.kill_after_first_checkpoint(ADJOINT, tmp_path / "killed", environment)
  assert left and max(left) < 24, left
  assert not (tmp_path / "killed" / "samples.npy").exists()
  resumed = run(tmp_path / "killed", "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"resumed from epoch {max(left)}" in resumed.stdout

  step_a, state_a, hist_a = checkpoint.read_latest(str(tmp_path / "whole"))
  step_b, state_b, hist_b = checkpoint.read_latest(str(tmp_path / "killed"))
  assert step_a == step_b == 24
  for a, b in zip(jax.tree.leaves((state_a, hist_a)), jax.tree.leaves((state_b, hist_b)),
                  strict=True):
    np.testing.assert_array_equal(a, b)  # parameters, optimiser state, buffer, histories
  for name in ("samples.npy", "hist_loss.npy"):
    np.testing.assert_array_equal(np.load(tmp_path / "whole" / name),
                                  np.load(tmp_path / "killed" / name))

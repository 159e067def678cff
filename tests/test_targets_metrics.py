"""Benchmark targets, evaluation metrics and the reference sampler (DiKL issue, items 1–2)."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.evaluation import metrics
from common.evaluation import protocol
from common.kernels import tempering as reference
from common.targets import benchmarks as targets
from common.targets import energies
from common.targets import particles


def test_mog40_first_mean_is_the_issues():
  np.testing.assert_allclose(targets.MOG40_MEANS[0], [-0.2995, 21.4577], atol=1e-4)


def test_mog40_means_equal_the_published_instance(shared_data):
  published = np.load(os.path.join(shared_data, "mog40_means.npy"))
  np.testing.assert_allclose(targets.MOG40_MEANS, published, atol=1e-4)


def test_mog40_energy_is_a_normalised_log_density():
  target = targets.get_target("mog")
  x = np.linspace(-60, 60, 1201)
  xx, yy = np.meshgrid(x, x)
  grid = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1), jnp.float32)
  mass = np.exp(-np.asarray(jax.vmap(target.energy)(grid), np.float64)).sum() * (x[1] - x[0])**2
  np.testing.assert_allclose(mass, 1.0, atol=1e-3)


def test_many_well_normaliser_and_exact_sample_statistics():
  target = targets.get_target("mw")
  assert target.dim == 32
  np.testing.assert_allclose(target.log_normaliser, 164.6957, atol=1e-4)
  x = np.asarray(target.sample(jax.random.key(0), 100_000))
  assert abs((x[:, 0::2] > 0).mean() - 0.844) < 0.01
  assert abs(np.mean(jax.vmap(target.energy)(x)) - (-137.2)) < 0.5
  np.testing.assert_allclose(x[:, 1::2].std(), 1.0, atol=0.01)


@pytest.mark.parametrize("alpha", [0.99, 0.6, 0.2])
def test_exact_noisy_scores_are_the_gradients_of_the_convolved_log_densities(
    alpha, central_difference):
  sigma = np.sqrt(1.0 - alpha**2)
  rng = np.random.default_rng(0)
  # MoG-40: p_t is the mixture of N(α μₖ, (α² s² + σ²) I), written out in float64.
  variance = alpha**2 * targets.MOG40_STD**2 + sigma**2
  means = alpha * targets.MOG40_MEANS.astype(np.float64)

  def mog_log_density(x):
    log_terms = -((x - means) ** 2).sum(-1) / (2 * variance)
    return np.log(np.exp(log_terms - log_terms.max()).sum()) + log_terms.max()

  for x_t in means[:3] + sigma * rng.standard_normal((3, 2)):
    np.testing.assert_allclose(
        targets.mog40_noisy_score(jnp.asarray(x_t, jnp.float32), alpha, sigma),
        central_difference(mog_log_density, x_t, 1e-4), rtol=1e-3, atol=1e-4)
  # MW-32: each well's p_t = ∫ w(x) N(x_t; α x, σ²) dx by a trapezoid on a fine float64 grid
  # (independent of the posterior-mean quadrature under test); the normals keep N(0, 1).
  grid = np.linspace(-6.0, 6.0, 240_001)
  log_well = -(grid**4 - 6.0 * grid**2 - 0.5 * grid)

  def well_log_density(x):
    log_terms = log_well - (x[0] - alpha * grid) ** 2 / (2 * sigma**2)
    return np.log(np.trapezoid(np.exp(log_terms - log_terms.max()), grid)) + log_terms.max()

  x = np.asarray(targets.get_target("mw").sample(jax.random.key(0), 1), np.float64)[0]
  x_t = alpha * x + sigma * rng.standard_normal(32)
  score = np.asarray(targets.mw32_noisy_score(jnp.asarray(x_t, jnp.float32), alpha, sigma))
  np.testing.assert_allclose(score[1::2], -x_t[1::2], rtol=1e-5, atol=1e-5)
  expected = [central_difference(well_log_density, x_t[i:i + 1], 1e-4)[0]
              for i in range(0, 32, 2)]
  np.testing.assert_allclose(score[0::2], expected, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name, filename, mean, tolerance", [
    ("dw", "dw4_test_klein.npy", -22.45, 0.02),
    ("lj", "lj13_test_klein.npy", -43.13, 0.05),
])
def test_particle_energies_on_the_published_samples(shared_data, name, filename, mean, tolerance):
  target = targets.get_target(name)
  samples = np.load(os.path.join(shared_data, filename))
  energy = np.asarray(jax.vmap(target.energy)(samples), np.float64)
  assert abs(energy.mean() - mean) < tolerance


@pytest.mark.parametrize("name", ["dw", "lj"])
def test_particle_energy_gradients_and_invariances(x64, name):
  target = targets.get_target(name)
  rng = np.random.default_rng(0)
  n, k = target.n_particles, target.spatial_dim
  # Particles on a lattice of spacing 1.2 (3.5 for DW), jittered: moderate energies, so
  # central differences resolve the gradient.
  lattice = np.stack(np.meshgrid(*[np.arange(3)] * k), -1).reshape(-1, k)[:n]
  x = (lattice * (3.5 if name == "dw" else 1.2) + 0.1 * rng.normal(size=(n, k))).ravel()
  grad = np.asarray(jax.grad(target.energy)(x))
  eps = 1e-6
  fd = np.array([(target.energy(x + eps * e) - target.energy(x - eps * e)) / (2 * eps)
                 for e in np.eye(x.size)])
  np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)
  rotation, _ = np.linalg.qr(rng.normal(size=(k, k)))  # a rotation or a reflection
  moved = (x.reshape(n, k)[rng.permutation(n)] @ rotation.T + rng.normal(size=k)).ravel()
  np.testing.assert_allclose(target.energy(moved), target.energy(x), rtol=1e-9)


def test_lennard_jones_soft_core_is_finite_at_short_range():
  lattice = np.stack(np.meshgrid(*[np.arange(3)] * 3), -1).reshape(-1, 3)[:13] * 1.2
  lattice[1] = lattice[0] + [0.05, 0.0, 0.0]  # particles 0 and 1 at distance 0.05
  x = jnp.asarray(lattice.ravel(), jnp.float32)
  soft = float(energies.lennard_jones_energy(x, soft_core=True))
  hard = float(energies.lennard_jones_energy(x))
  assert hard > 1e15  # 2 · 0.05⁻¹²
  assert np.isfinite(soft) and soft < 1e15
  # Soft core: the pair term times d, counted twice.
  pair = 0.05**-12 - 2 * 0.05**-6
  np.testing.assert_allclose(hard - soft, 2 * pair * (1 - 0.05), rtol=1e-3)


def test_pair_distances_and_centre_of_mass():
  x = jnp.array([[0.0, 0.0, 3.0, 4.0, 6.0, 8.0]])
  np.testing.assert_allclose(particles.pair_distances(x, 3), [[5.0, 10.0, 5.0]])
  centred = particles.remove_centre_of_mass(x, 3)
  np.testing.assert_allclose(particles.as_particles(centred, 3).mean(-2), 0.0, atol=1e-6)


def test_w2_is_zero_on_itself_and_equals_brute_force_assignment():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)) + 0.5
  assert metrics.wasserstein2(x, x) == 0.0
  brute = min(np.mean(np.sum((x - y[list(p)]) ** 2, 1)) for p in itertools.permutations(range(6)))
  np.testing.assert_allclose(metrics.wasserstein2(x, y), np.sqrt(brute), rtol=1e-12)
  with pytest.raises(ValueError):
    metrics.wasserstein2(x, y[:5])


def test_sliced_w2_is_zero_on_itself_exact_in_1d_and_sees_a_shift():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(500, 3)), rng.standard_t(3, size=(500, 3))
  assert metrics.sliced_wasserstein2(x, x) == 0.0
  # In 1-D every direction is ±1 and the sliced distance is the exact W2.
  np.testing.assert_allclose(metrics.sliced_wasserstein2(x[:, :1], y[:, :1]),
                             metrics.wasserstein2(x[:, :1], y[:, :1]), rtol=1e-12)
  # A shift v moves every projection by θ·v: SW2² = mean_θ (θ·v)², ‖v‖²/d for uniform
  # directions (Monte Carlo error 0.9/√P relative: 0.6% with P = 20 000 directions).
  v = np.array([3.0, -1.0, 2.0])
  np.testing.assert_allclose(metrics.sliced_wasserstein2(x, x + v, num_projections=20_000) ** 2,
                             v @ v / 3, rtol=0.03)
  with pytest.raises(ValueError):
    metrics.sliced_wasserstein2(x, y[:10])


def test_histogram_tvd_identical_disjoint_and_out_of_range():
  values = np.random.default_rng(2).normal(size=5000)
  assert metrics.histogram_tvd(values, values) == 0.0
  assert metrics.histogram_tvd(values, values + 100.0) == 1.0
  # Out-of-range model values are dropped, the rest renormalised: same histogram, TVD 0.
  assert metrics.histogram_tvd(values, np.concatenate([values, [1e3, -1e3]])) == 0.0


@pytest.fixture(scope="module")
def dw4_reference():
  """10⁴ DW-4 samples of the reference sampler and its diagnostics (one run for two tests)."""
  return reference.sample_parallel_tempering(targets.get_target("dw"), jax.random.key(0), 10_000)


def test_reference_sampler_for_dw4_has_zero_com_and_its_acceptance(dw4_reference):
  samples, diagnostics = dw4_reference
  assert samples.shape == (10_000, 8)
  np.testing.assert_allclose(particles.as_particles(samples, 4).mean(1), 0.0, atol=1e-4)
  assert 0.4 < diagnostics["acceptance_per_temperature"][0] < 0.7


def test_reference_sampler_for_dw4_matches_the_published_rerun(shared_data, dw4_reference):
  target = targets.get_target("dw")
  samples, _ = dw4_reference
  rerun = np.load(os.path.join(shared_data, "dw4_rerun_dikl.npy"))
  scores = protocol.evaluate(samples, rerun, target)
  assert scores["w2_mean"] <= 1.60, scores
  assert scores["dist_tvd_mean"] <= 0.08, scores


def test_evaluate_rejects_wrong_dimension_and_too_few_samples():
  target = targets.get_target("dw")
  with pytest.raises(ValueError, match="needs"):
    protocol.evaluate(np.zeros((3000, 6)), np.zeros((3000, 8)), target)
  with pytest.raises(ValueError, match="draws"):
    protocol.evaluate(np.zeros((100, 8)), np.zeros((3000, 8)), target)


def test_reference_cli_exact_target_and_bad_flags(run_module, tmp_path):
  out = tmp_path / "sub" / "mog.npy"
  done = run_module("common.reference", "--target=mog", "--num_samples=500", f"--out={out}")
  assert done.returncode == 0, done.stderr
  assert np.load(out).shape == (500, 2)
  for flag in ("--target=xyz", "--num_samples=0", f"--out={tmp_path / 'x.txt'}"):
    bad = run_module("common.reference", f"--out={tmp_path / 'y.npy'}", flag)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert lines[0].startswith(f"error: {flag.split('=')[0]}: "), lines[0]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no y.npy nor x.txt written

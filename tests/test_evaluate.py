"""The evaluation module: aligned W2 against an independent SciPy computation, 1-D W2 and
importance-weighted log Z against closed forms, and ``python -m common.evaluate`` end to end."""

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize
from scipy import spatial
from scipy import stats

from common.evaluation import alignment
from common.evaluation import importance
from common.evaluation import metrics
from common.evaluation import protocol
from common.targets import benchmarks as targets
from common.targets import particles


def _centred(rng, num, n_particles, spatial_dim):
  x = rng.standard_normal((num, n_particles, spatial_dim))
  return (x - x.mean(1, keepdims=True)).reshape(num, -1)


def _scipy_pair_cost(x, y, n_particles):
  """The official evaluator's pair cost, step by step: Hungarian on particle distances, then
  the orthogonal Procrustes map of the matched y onto x, then the flat Euclidean distance."""
  x, y = x.reshape(n_particles, -1), y.reshape(n_particles, -1)
  _, columns = optimize.linear_sum_assignment(spatial.distance.cdist(x, y))
  matched = y[columns]
  u, _, vt = np.linalg.svd((x - x.mean(0)).T @ (matched - matched.mean(0)))
  return np.linalg.norm(x - matched @ (vt.T @ u.T))


@pytest.mark.parametrize("n", [4, 7, 13])
def test_assignment_is_optimal_like_scipy(n):
  rng = np.random.default_rng(n)
  costs = rng.random((300, n, n)).astype(np.float32)
  columns = np.asarray(jax.jit(jax.vmap(alignment.assignment))(jnp.asarray(costs)))
  hungarian = np.asarray(jax.jit(jax.vmap(alignment.hungarian))(jnp.asarray(costs)))
  for cost, found, found_hungarian in zip(costs, columns, hungarian):
    rows, best = optimize.linear_sum_assignment(cost)
    assert sorted(found) == list(range(n)) and sorted(found_hungarian) == list(range(n))
    np.testing.assert_allclose(cost[rows, found].sum(), cost[rows, best].sum(), rtol=1e-6)
    np.testing.assert_allclose(cost[rows, found_hungarian].sum(), cost[rows, best].sum(),
                               rtol=1e-6)


@pytest.mark.parametrize("n_particles, spatial_dim", [(4, 2), (13, 3)])
def test_pair_costs_equal_an_independent_scipy_computation(n_particles, spatial_dim):
  rng = np.random.default_rng(0)
  x = _centred(rng, 20, n_particles, spatial_dim)
  y = _centred(rng, 17, n_particles, spatial_dim)
  costs = alignment.aligned_pair_costs(x, y, n_particles, pairs_per_call=100)
  expected = np.array([[_scipy_pair_cost(a, b, n_particles) for b in y] for a in x])
  np.testing.assert_allclose(costs, expected, rtol=1e-5, atol=1e-5)


def test_aligned_w2_ignores_particle_order_and_rigid_motion_of_small_angle():
  rng = np.random.default_rng(1)
  x = _centred(rng, 64, 4, 2)
  permuted = x.reshape(64, 4, 2)[:, rng.permutation(4)].reshape(64, 8)
  assert alignment.aligned_wasserstein2(x, permuted[rng.permutation(64)], 4) < 1e-5
  # A reflection aligns exactly (the map may have determinant −1) when the matching, made on
  # raw coordinates before the alignment, still pairs each particle with its image.
  mirrored = x.reshape(64, 4, 2) * np.array([1.0, -1.0])
  assert alignment.aligned_wasserstein2(x, mirrored.reshape(64, 8), 4) < 1.0
  # The plain W2 sees the permutation.
  assert metrics.wasserstein2(x, permuted) > 0.1


def test_one_dimensional_w2_of_shifted_gaussians_is_the_shift():
  rng = np.random.default_rng(2)
  a = rng.normal(1.0, 2.0, 200_000)
  b = rng.normal(-0.5, 2.0, 150_000)
  assert abs(metrics.wasserstein2_1d(a, b) - 1.5) < 0.03
  grid = stats.norm.ppf((np.arange(1000) + 0.5) / 1000)  # exact quantiles: W2 is the shift
  np.testing.assert_allclose(metrics.wasserstein2_1d(grid + 3.0, grid), 3.0, rtol=1e-12)


def test_importance_log_z_of_mog40_with_a_broad_gaussian_proposal():
  target = targets.get_target("mog")
  scale, num = 30.0, 200_000
  x = scale * jax.random.normal(jax.random.key(0), (num, 2))
  log_q = stats.multivariate_normal(np.zeros(2), scale**2 * np.eye(2)).logpdf(np.asarray(x))
  log_w = -np.asarray(jax.vmap(target.energy)(x), np.float64) - log_q
  estimate = importance.log_z_estimate(log_w, batch_size=16)
  assert abs(estimate["log_z"] - target.log_normaliser) < 3 * estimate["log_z_standard_error"]
  assert 0.0 < estimate["ess_mean"] < 1.0 and estimate["ess_batch_size"] == 16


@pytest.mark.parametrize("name", ["mog", "mw"])
def test_importance_with_the_exact_sampler_gives_log_z_and_ess_one(name):
  # Exact draws and their normalised density q = exp(−E − log Z) (MoG-40's energy is already
  # −log p, log Z = 0), so every log-weight −E − log q is log Z itself.
  target = targets.get_target(name)
  x = target.sample(jax.random.key(1), 4096)
  energy = np.asarray(jax.vmap(target.energy)(x), np.float64)
  log_q = -energy - target.log_normaliser
  estimate = importance.log_z_estimate(-energy - log_q, batch_size=16)
  np.testing.assert_allclose(estimate["log_z"], target.log_normaliser, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(estimate["ess_mean"], 1.0, rtol=1e-12)
  assert estimate["log_z_standard_error"] < 1e-12
  with pytest.raises(ValueError):
    importance.log_z_estimate(np.array([0.0, np.nan]))


def test_dikl_metrics_do_not_depend_on_what_else_is_asked(shared_data):
  target = targets.get_target("dw")
  reference = np.load(f"{shared_data}/dw4_test_klein.npy")
  model = reference[::-1] + 0.1
  args = dict(repeats=2, size=300, aligned_size=100, seed=3)
  alone = protocol.evaluate(model, reference, target, names=protocol.DIKL_METRICS, **args)
  everything = protocol.evaluate(model, reference, target, names=protocol.ALL_METRICS, **args)
  assert alone == {k: everything[k] for k in alone}
  assert set(everything) == {f"{n}_{s}" for n in ("w2", "aligned_w2", "energy_w2",
                                                   "energy_w2_squared", "energy_tvd", "dist_tvd",
                                                   "dist_w2") for s in ("mean", "std")}
  # iDEM's form is the square of each repeat's W2, so its mean is at least the squared mean.
  assert everything["energy_w2_squared_mean"] >= everything["energy_w2_mean"] ** 2


def test_cli_scores_model_baselines_and_floor(run_module, tmp_path):
  target = targets.get_target("mog")
  exact = np.asarray(target.sample(jax.random.key(7), 1200))
  (tmp_path / "base").mkdir()
  np.save(tmp_path / "model.npy", exact)
  np.save(tmp_path / "base" / "shifted.npy", exact + 10.0)
  np.save(tmp_path / "log_w.npy", np.zeros(1200))  # the exact density: log w = log Z = 0
  out = tmp_path / "out"
  done = run_module("common.evaluate", "--target=mog", f"--sample_path={tmp_path / 'model.npy'}",
                    f"--baseline_sample_dir={tmp_path / 'base'}", f"--save_dir={out}", "--floor",
                    f"--log_weights={tmp_path / 'log_w.npy'}", "--repeats=2", "--eval_size=300")
  assert done.returncode == 0, done.stderr
  rows = list(csv.DictReader(open(out / "metrics.csv")))
  assert [r["method"] for r in rows] == ["model", "shifted", "floor"]
  assert "modes_covered_mean" in rows[0] and "dist_tvd_mean" not in rows[0]
  assert float(rows[0]["log_z"]) == 0.0 and float(rows[0]["ess_mean"]) == 1.0
  assert rows[1]["log_z"] == ""
  assert float(rows[1]["energy_w2_mean"]) > 5 * float(rows[2]["energy_w2_mean"])
  assert float(rows[0]["modes_covered_mean"]) >= 35
  assert json.loads((out / "metrics.json").read_text())["floor"]["w2_mean"] > 0
  assert (out / "histograms.png").read_bytes()[:4] == b"\x89PNG"
  assert "| floor |" in (out / "metrics.md").read_text()

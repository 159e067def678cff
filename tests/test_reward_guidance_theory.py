"""The subspace setting of Yuan et al. (2023), Part 2: ridge estimate, oracle, network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.diffusion import ddpm
from reward_guidance import theory


@pytest.fixture(scope="module")
def problem():
  return theory.make_problem(0, num_unlabeled=4096)


def test_ridge_estimate_lies_in_the_span_of_a(problem):
  basis, theta_hat = problem.basis, problem.theta_hat
  off = theta_hat - basis @ (basis.T @ theta_hat)
  assert np.linalg.norm(off) / np.linalg.norm(theta_hat) < 1e-6
  assert np.linalg.norm(theta_hat - problem.theta_star) < 0.1  # 1,024 labels, λ = 1
  np.testing.assert_allclose(basis.T @ basis, np.eye(16), atol=1e-12)
  assert np.linalg.norm(problem.theta_star) == pytest.approx(1.0)


@pytest.mark.parametrize("target", [0.0, 1.0, 2.0, 4.0])
def test_oracle_mean_reward_is_slope_times_target(problem, target):
  samples = theory.oracle_sample(np.random.default_rng(1), problem, target, 20000)
  slope = theory.oracle_slope(problem)
  assert abs((samples @ problem.theta_star).mean() - slope * target) <= 0.03
  # The conditional is exact: the pseudo-label's own mean is θ̂ᵀE[x | ŷ = a].
  s2 = problem.theta_hat @ problem.theta_hat + problem.pseudo_noise**2
  np.testing.assert_allclose((samples @ problem.theta_hat).mean(),
                             target * (problem.theta_hat @ problem.theta_hat) / s2, atol=0.03)
  assert theory.measure(problem, samples, target)["off_support_ratio"] < 1e-12


def test_oracle_matches_the_empirical_conditional(problem):
  """Pseudo-labelled points with ŷ ≈ 1 have the oracle's mean reward (a Monte Carlo check)."""
  near = np.abs(problem.pseudo_labels - 1.0) < 0.05
  assert near.sum() > 50
  empirical = (problem.x_unlabeled[near] @ problem.theta_star).mean()
  assert abs(empirical - theory.oracle_slope(problem)) < 0.1


def test_subspace_network_predicts_off_span_noise_exactly():
  """With V = span(A) and φ = 0, ε̂ on an off-span direction is x_⊥ / σ (the exact noise)."""
  network = theory.SubspaceEps(8, 2, width=16)
  params = network.init(jax.random.key(0), jnp.zeros((1, 8)), jnp.zeros(()), jnp.zeros(1),
                        jnp.ones(()))
  weights = params["params"]["basis"]
  v = jnp.linalg.qr(weights)[0]
  x = jax.random.normal(jax.random.key(1), (5, 8))
  out = network.apply(params, x, jnp.float32(10.0), jnp.zeros(5), jnp.float32(0.3))
  off_span = x - x @ v @ v.T
  np.testing.assert_allclose(out - (out @ v) @ v.T, off_span / 0.3, rtol=1e-4, atol=1e-5)
  schedule = ddpm.cosine_schedule(200)
  apply = theory.subspace_apply(network, schedule)
  assert apply(params, x, jnp.full((5,), 3.0), jnp.zeros(5)).shape == (5, 8)
  assert theory.subspace_angle(params, np.asarray(v, np.float64)) < 1e-5

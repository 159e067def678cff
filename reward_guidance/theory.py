"""The provable setting of Yuan et al. (2023, §4–5 and the synthetic study of §6).

Data on a d-dimensional subspace of R^D: x = A u, A ∈ R^{D×d} with orthonormal columns, u ~ N(0, I_d);
linear reward f*(x) = θ*ᵀx with θ* = A β*, ‖β*‖ = 1. From n₂ labelled points y = f*(x) + N(0, σ²)
a ridge estimate θ̂ = (XᵀX + λI)⁻¹ Xᵀy (λ = 1; it lies in span(A) because every row of X does);
the n₁ unlabelled points get pseudo-labels ŷ = θ̂ᵀx + N(0, ν²), and a conditional diffusion model
learns p(x | ŷ), sampled at a target ŷ = a.

Oracle: (x, ŷ) is jointly Gaussian, so p(x | ŷ = a) = N(θ̂ a / s², AAᵀ − θ̂θ̂ᵀ / s²), s² = ‖θ̂‖² + ν²,
and the expected reward of the oracle is slope · a with slope = θ*ᵀθ̂ / s².

Score networks for ε-prediction:
  subspace encoder (the paper's, after Chen et al. 2023): V ∈ R^{D×d} orthonormalised by QR in the
    forward pass and ε̂(x, ŷ, t) = (x − V ψ(Vᵀx, ŷ, t)) / σ_t with V ψ = V(Vᵀx − σ_t φ(Vᵀx, ŷ, t)),
    i.e. ε̂ = (I − VVᵀ)x / σ_t + V φ: the component off span(V) is pure noise, predicted exactly,
    and only the d-dimensional φ is learnt (the same family, better conditioned at small σ_t);
  a generic MLP (``common.networks.residual_mlp.ResidualMLP``) on [x, emb(t), ŷ].
"""

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from common.diffusion import ddpm
from common.networks import time_embedding


class Problem(NamedTuple):
  """One draw of the setting (float64 NumPy)."""
  basis: np.ndarray  # A (D, d), orthonormal columns
  theta_star: np.ndarray  # (D,)
  theta_hat: np.ndarray  # ridge estimate (D,)
  x_unlabeled: np.ndarray  # (n₁, D)
  pseudo_labels: np.ndarray  # (n₁,)
  pseudo_noise: float  # ν


def make_problem(seed: int, dim: int = 64, latent_dim: int = 16, num_unlabeled: int = 65536,
                 num_labeled: int = 1024, label_noise: float = 0.1, ridge: float = 1.0,
                 pseudo_noise: float = 0.1) -> Problem:
  """Draws A, β*, the labelled and unlabelled sets, the ridge estimate and the pseudo-labels."""
  rng = np.random.default_rng(seed)
  basis, _ = np.linalg.qr(rng.standard_normal((dim, latent_dim)))
  beta = rng.standard_normal(latent_dim)
  theta_star = basis @ (beta / np.linalg.norm(beta))
  x_labeled = rng.standard_normal((num_labeled, latent_dim)) @ basis.T
  y = x_labeled @ theta_star + label_noise * rng.standard_normal(num_labeled)
  theta_hat = ridge_estimate(x_labeled, y, ridge)
  x_unlabeled = rng.standard_normal((num_unlabeled, latent_dim)) @ basis.T
  pseudo = x_unlabeled @ theta_hat + pseudo_noise * rng.standard_normal(num_unlabeled)
  return Problem(basis, theta_star, theta_hat, x_unlabeled, pseudo, pseudo_noise)


def ridge_estimate(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
  """θ̂ = (XᵀX + λI)⁻¹ Xᵀy (float64, by a linear solve)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)


def oracle_slope(problem: Problem) -> float:
  """E[f*(x) | ŷ = a] / a = θ*ᵀθ̂ / (‖θ̂‖² + ν²)."""
  return float(problem.theta_star @ problem.theta_hat
               / (problem.theta_hat @ problem.theta_hat + problem.pseudo_noise**2))


def oracle_sample(rng: np.random.Generator, problem: Problem, target: float,
                  num: int) -> np.ndarray:
  """Exact draws of p(x | ŷ = a) (module docstring), as A u with u Gaussian in R^d."""
  s2 = problem.theta_hat @ problem.theta_hat + problem.pseudo_noise**2
  latent_theta = problem.basis.T @ problem.theta_hat  # θ̂ = A Aᵀθ̂ exactly in span(A)
  mean = latent_theta * target / s2
  cov = np.eye(problem.basis.shape[1]) - np.outer(latent_theta, latent_theta) / s2
  return rng.multivariate_normal(mean, cov, num) @ problem.basis.T


class SubspaceEps(nn.Module):
  """ε̂ = (I − VVᵀ)x / σ_t + V φ(Vᵀx, ŷ, t), V = QR(W) (module docstring).

  Attributes:
    dim: D.
    latent_dim: d (columns of V).
    width: hidden width of φ (3 SiLU layers).
    time_dim: size of the sinusoidal embedding of t.
    init_scale: std of the initial W. QR ignores W's scale, so a small W makes each Adam step a
      larger rotation of V: with 0.05 it aligns with span(A) within the run, with 1.0 it barely
      moves in 3,000 steps.
  """
  dim: int
  latent_dim: int
  width: int = 256
  time_dim: int = 64
  init_scale: float = 0.05

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array, y: jax.Array, sigma: jax.Array) -> jax.Array:
    """``x`` (N, D), ``t`` () float step, ``y`` (N,), ``sigma`` () = √(1 − ᾱ_t)."""
    v = jnp.linalg.qr(self.param("basis", nn.initializers.normal(self.init_scale),
                                 (self.dim, self.latent_dim)))[0]
    latent = x @ v
    emb = jnp.broadcast_to(time_embedding.step_embedding(t, self.time_dim),
                           x.shape[:-1] + (self.time_dim,))
    h = jnp.concatenate([latent, emb, y[..., None]], axis=-1)
    for _ in range(3):
      h = nn.silu(nn.Dense(self.width)(h))
    phi = nn.Dense(self.latent_dim)(h)
    return (x - latent @ v.T) / sigma + phi @ v.T


def subspace_apply(network: SubspaceEps, schedule: ddpm.DiscreteSchedule) -> Callable[..., Any]:
  """apply(params, x, t, y) for ``ddpm.eps_loss``: σ_t looked up from the schedule."""

  def apply(params, x, t, y):
    sigma = jnp.sqrt(1.0 - schedule.alpha_bars[jnp.asarray(t).astype(jnp.int32)])
    return network.apply(params, x, t, y, sigma[..., None] if jnp.ndim(sigma) else sigma)

  return apply


def subspace_angle(params: Any, basis: np.ndarray) -> float:
  """‖VVᵀ − AAᵀ‖_F for the learnt V of ``SubspaceEps`` parameters."""
  v = np.linalg.qr(np.asarray(params["params"]["basis"], np.float64))[0]
  return float(np.linalg.norm(v @ v.T - basis @ basis.T))


def measure(problem: Problem, samples: np.ndarray, target: float) -> dict[str, float]:
  """Mean true and predicted reward, reward/target, off-support deviation and its ratio."""
  samples = np.asarray(samples, np.float64)
  off = samples - samples @ problem.basis @ problem.basis.T
  off_norm, norm = np.linalg.norm(off, axis=1), np.linalg.norm(samples, axis=1)
  reward = samples @ problem.theta_star
  return {"reward": float(reward.mean()),
          "reward_ratio": float(reward.mean() / target) if target else float("nan"),
          "predicted_reward": float((samples @ problem.theta_hat).mean()),
          "off_support": float(off_norm.mean()),
          "off_support_ratio": float(off_norm.mean() / norm.mean())}

"""FastDPM: a pretrained 1000-step DDPM cut to S sampling steps (Kong & Ping 2021).

A DDPM with cumulative products ᾱ_0 > … > ᾱ_{T−1} is sampled with a short chain whose own
noise levels Γ̄_0 > … > Γ̄_{S−1} are matched to *continuous* DDPM steps τ_j with ᾱ(τ_j) = Γ̄_j,
so the ε-network is queried at the step whose noise level the short chain is at. Two ways of
choosing Γ̄ (Kong & Ping 2021, §4):

- VAR: choose the short chain's variances η_j (Γ̄_j = Π_{k≤j} (1 − η_k)) from a linear or
  quadratic family whose free parameter is set by bisection so that Γ̄_{S−1} = ᾱ_{T−1};
- STEP: choose S of the T integer steps (linear or quadratic spacing) and use their ᾱ.

One step of the reduced chain, from Γ̄_j to Γ̄_{j−1} (DDIM-style with κ ∈ [0, 1]; κ = 1 is the
DDPM posterior, Kong & Ping 2021 eq. 10; Song et al. 2021 eq. 12):

    x ← √(Γ̄_{j−1}/Γ̄_j) x + (√(1 − Γ̄_{j−1} − s_j²) − √(1 − Γ̄_j) √(Γ̄_{j−1}/Γ̄_j)) ε(x, τ_j) + s_j ξ,
    s_j = κ √((1 − Γ̄_{j−1}) / (1 − Γ̄_j) · (1 − Γ̄_j / Γ̄_{j−1})),

with Γ̄_{−1} = 1 for the last step, whose noise is 0.001 (as in FastDPM and DxMI, Yoon et al.
2024). All arithmetic is float64 NumPy: these are constants of the sampler.
"""

from typing import Literal, NamedTuple

import numpy as np

from common.diffusion import ddpm

Spacing = Literal["linear", "quadratic"]

LAST_STEP_STD = 0.001
_BETA_START = 1e-4  # The DDPM's β_0, also the first η of FastDPM's VAR families.


class ReducedSchedule(NamedTuple):
  """An S-step sampler, in sampling order i = 0 … S−1 (noise to data).

  Step i maps x to ``x_coef[i] x + eps_coef[i] ε(x, timesteps[i]) + std[i] ξ``.
  """
  timesteps: np.ndarray  # (S,) continuous DDPM steps τ, decreasing; the last is ≈ 0
  x_coef: np.ndarray  # (S,)
  eps_coef: np.ndarray  # (S,)
  std: np.ndarray  # (S,) s_i of the formula above (κ-scaled); the last is LAST_STEP_STD
  gamma_bar: np.ndarray  # (S,) Γ̄ in the chain's own (data-to-noise) order


def _bisect_decreasing(f, low: float, high: float, target: float) -> float:
  """x in [low, high] with f(x) = target for a decreasing f, clamped to the interval's ends."""
  if f(high) >= target:
    return high
  if f(low) <= target:
    return low
  for _ in range(200):
    mid = 0.5 * (low + high)
    if f(mid) > target:
      low = mid
    else:
      high = mid
  return 0.5 * (low + high)


def var_variances(num_steps: int, spacing: Spacing, alphas_bar: np.ndarray) -> np.ndarray:
  """FastDPM's VAR variances η_0 … η_{S−1} (Kong & Ping 2021, §4.1).

  quadratic: η_j = β_0 (1 + j x)², x ∈ [0, 0.95 / (√β_0 S)];
  linear:    η_j = linspace(β_0, x, S)_j, x ∈ [β_0, 0.99];
  x is set by bisection so that Π (1 − η_j) = ᾱ_{T−1}, or to the domain's end when the family
  cannot reach it (the case for the quadratic family at S ≤ 10 with the linear DDPM schedule).
  """
  if num_steps < 2:
    raise ValueError(f"num_steps must be at least 2, got {num_steps}")
  index = np.arange(num_steps, dtype=np.float64)
  if spacing == "quadratic":
    family = lambda x: _BETA_START * (1.0 + index * x) ** 2
    domain = (0.0, 0.95 / (np.sqrt(_BETA_START) * num_steps))
  elif spacing == "linear":
    family = lambda x: np.linspace(_BETA_START, x, num_steps)
    domain = (_BETA_START, 0.99)
  else:
    raise ValueError(f"unknown spacing {spacing!r}; use 'linear' or 'quadratic'")
  product = lambda x: float(np.prod(1.0 - family(x)))
  return family(_bisect_decreasing(product, *domain, float(alphas_bar[-1])))


def continuous_steps(gamma_bar: np.ndarray, alphas_bar: np.ndarray) -> np.ndarray:
  """Continuous steps τ with log ᾱ(τ) = log Γ̄, log ᾱ interpolated linearly between integers.

  Levels at or above ᾱ_0 map to τ = 0, levels below ᾱ_{T−1} to T − 1. (FastDPM's own search
  returns T − 1 whenever a level is not strictly inside an interval, which sends a first level
  equal to ᾱ_0 to the *noisiest* step; we clamp it to 0 instead.)
  """
  log_alphas = np.log(alphas_bar)
  # np.interp needs increasing abscissae: log ᾱ decreases with t, so flip both.
  steps = np.interp(np.log(gamma_bar), log_alphas[::-1],
                    np.arange(len(alphas_bar), dtype=np.float64)[::-1])
  return np.clip(steps, 0.0, len(alphas_bar) - 1.0)


def _alpha_bars_or_default(alphas_bar: np.ndarray | None) -> np.ndarray:
  """The given ᾱ in float64, or the DDPM default (linear β 1e-4 → 0.02, T = 1000)."""
  return ddpm.linear_alpha_bars() if alphas_bar is None else np.asarray(alphas_bar, np.float64)


def _reduced(gamma_bar: np.ndarray, steps: np.ndarray, kappa: float) -> ReducedSchedule:
  """Coefficients of the reduced chain (module docstring) for levels Γ̄ in data-to-noise order."""
  if not 0.0 <= kappa <= 1.0:
    raise ValueError(f"kappa must lie in [0, 1], got {kappa}")
  current = gamma_bar[::-1]  # Γ̄_j in sampling order
  following = np.append(gamma_bar[::-1][1:], 1.0)  # Γ̄_{j−1}, and 1 after the last step
  std = kappa * np.sqrt((1 - following) / (1 - current) * (1 - current / following))
  ratio = np.sqrt(following / current)
  eps_coef = np.sqrt(1 - following - std**2) - np.sqrt(1 - current) * ratio
  std[-1] = LAST_STEP_STD
  return ReducedSchedule(timesteps=steps[::-1].copy(), x_coef=ratio, eps_coef=eps_coef,
                         std=std, gamma_bar=gamma_bar)


def var_schedule(num_steps: int, spacing: Spacing = "quadratic",
                 alphas_bar: np.ndarray | None = None, kappa: float = 1.0) -> ReducedSchedule:
  """FastDPM-VAR reduction of a DDPM to ``num_steps`` steps (defaults: linear β, T = 1000)."""
  alphas_bar = _alpha_bars_or_default(alphas_bar)
  gamma_bar = np.cumprod(1.0 - var_variances(num_steps, spacing, alphas_bar))
  return _reduced(gamma_bar, continuous_steps(gamma_bar, alphas_bar), kappa)


def step_schedule(num_steps: int, spacing: Spacing = "quadratic",
                  alphas_bar: np.ndarray | None = None, kappa: float = 1.0) -> ReducedSchedule:
  """FastDPM-STEP reduction: S integer steps of the DDPM (Kong & Ping 2021, §4.2).

  linear: every ⌊T/S⌋-th step from 0; quadratic: ⌊(linspace(0, √(0.8 T), S))²⌋.
  """
  alphas_bar = _alpha_bars_or_default(alphas_bar)
  total = len(alphas_bar)
  if spacing == "linear":
    steps = np.arange(0, total, total // num_steps)[:num_steps]
  elif spacing == "quadratic":
    steps = np.floor(np.linspace(0.0, np.sqrt(0.8 * total), num_steps) ** 2).astype(np.int64)
  else:
    raise ValueError(f"unknown spacing {spacing!r}; use 'linear' or 'quadratic'")
  return _reduced(alphas_bar[steps], steps.astype(np.float64), kappa)

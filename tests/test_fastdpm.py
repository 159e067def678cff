"""FastDPM reductions against the values of Kong & Ping (2021) and DxMI's 5-step start."""

import numpy as np
import pytest

from common.diffusion import ddpm
from dxmi import fastdpm


def test_var_quadratic_ten_steps():
  alphas_bar = ddpm.linear_alpha_bars()
  eta = fastdpm.var_variances(10, "quadratic", alphas_bar)
  np.testing.assert_allclose(
      eta, [1e-4, 0.011025, 0.04, 0.087025, 0.1521, 0.235225, 0.3364, 0.455625, 0.5929, 0.748225],
      rtol=1e-6)
  schedule = fastdpm.var_schedule(10, "quadratic")
  np.testing.assert_allclose(
      schedule.timesteps[:-1], [616.7, 494.0, 394.1, 308.9, 234.9, 170.3, 114.4, 66.9, 28.3],
      atol=0.5)
  assert schedule.timesteps[-1] < 0.5


def test_var_quadratic_five_steps_is_dxmi_start():
  schedule = fastdpm.var_schedule(5, "quadratic")
  np.testing.assert_allclose(schedule.timesteps[:-1], [384.0, 243.0, 138.3, 58.7], atol=0.5)
  assert schedule.timesteps[-1] < 0.5
  np.testing.assert_allclose(schedule.std, [0.591, 0.369, 0.181, 0.010, 0.001], atol=1.5e-3)
  assert np.all(np.diff(schedule.timesteps) < 0)


@pytest.mark.parametrize("spacing", ["linear", "quadratic"])
@pytest.mark.parametrize("num_steps", [2, 5, 10, 50])
def test_last_step_is_never_the_noisiest(spacing, num_steps):
  for schedule in (fastdpm.var_schedule(num_steps, spacing),
                   fastdpm.step_schedule(num_steps, spacing)):
    assert schedule.timesteps[-1] < 0.5
    assert np.all(np.diff(schedule.timesteps) <= 0)  # from noise to data, never back


def test_continuous_steps_invert_integer_levels():
  alphas_bar = ddpm.linear_alpha_bars()
  steps = np.array([0, 1, 17, 500, 998, 999])
  np.testing.assert_allclose(fastdpm.continuous_steps(alphas_bar[steps], alphas_bar), steps,
                             atol=1e-9)


def test_kappa_one_is_the_ddpm_posterior_and_zero_is_deterministic():
  """With S = T the VAR chain is the DDPM itself: κ = 1 gives the posterior std √β̃_t."""
  alphas_bar = ddpm.linear_alpha_bars(50, 1e-4, 0.2)
  schedule = fastdpm.step_schedule(50, "linear", alphas_bar)
  betas = 1 - alphas_bar / np.append(1.0, alphas_bar[:-1])
  posterior_var = betas[1:] * (1 - alphas_bar[:-1]) / (1 - alphas_bar[1:])
  np.testing.assert_allclose(schedule.std[:-1], np.sqrt(posterior_var)[::-1], rtol=1e-10)
  np.testing.assert_allclose(schedule.x_coef[:-1], 1 / np.sqrt(1 - betas[1:])[::-1], rtol=1e-10)
  deterministic = fastdpm.step_schedule(50, "linear", alphas_bar, kappa=0.0)
  assert np.all(deterministic.std[:-1] == 0)


def test_linear_var_is_worse_conditioned_than_quadratic():
  """The linear family spends its first step at a much noisier level (FastDPM, Table 1)."""
  assert (fastdpm.var_schedule(5, "linear").timesteps[0]
          > fastdpm.var_schedule(5, "quadratic").timesteps[0] + 200)


def test_bad_arguments():
  with pytest.raises(ValueError, match="spacing"):
    fastdpm.var_schedule(5, "cubic")
  with pytest.raises(ValueError, match="kappa"):
    fastdpm.var_schedule(5, kappa=1.5)
  with pytest.raises(ValueError, match="num_steps"):
    fastdpm.var_schedule(1)

"""Midpoint quadrature against Gaussian closed forms, including a jump on a cell edge."""

import math

import numpy as np
import pytest

from common.evaluation import quadrature


def test_gaussian_weights_integrate_moments():
  grid = quadrature.midpoint_grid(12.0, 0.2)
  w = quadrature.gaussian_weights(grid, [1.0, -2.0], 1.5)
  np.testing.assert_allclose(w.sum(), 1.0, atol=1e-12)
  np.testing.assert_allclose(w @ grid.points, [1.0, -2.0], atol=1e-10)
  np.testing.assert_allclose(w @ (grid.points[:, 0] - 1.0) ** 2, 1.5**2, atol=1e-10)


def test_indicator_on_a_cell_edge_is_integrated_to_second_order():
  exact = 0.5 * (1 + math.erf(0.3 / math.sqrt(2)))  # P(x₀ ≥ 0) under N(0.3, 1)
  errors = []
  for spacing in (0.1, 0.05):
    grid = quadrature.midpoint_grid(10.0, spacing)
    w = quadrature.gaussian_weights(grid, [0.3, 0.0], 1.0)
    errors.append(abs(w @ (grid.points[:, 0] >= 0) - exact))
  # The midpoint rule's edge error h² f'(0) / 24 ≈ 4.8e-5 at h = 0.1 quarters when h halves.
  assert errors[0] < 6e-5
  np.testing.assert_allclose(errors[0] / errors[1], 4.0, rtol=0.05)


def test_mixture_weights_and_bad_grid():
  grid = quadrature.midpoint_grid(10.0, 0.1)
  w = quadrature.mixture_weights(grid, [0.25, 0.75], [[-2.0, 0.0], [2.0, 0.0]], 1.0)
  np.testing.assert_allclose(w.sum(), 1.0, atol=1e-12)
  np.testing.assert_allclose(w @ grid.points[:, 0], 1.0, atol=1e-10)
  assert grid.axis.shape == (200,)
  with pytest.raises(ValueError):
    quadrature.midpoint_grid(1.0, 0.0)

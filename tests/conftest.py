"""Shared fixtures: float64 on demand, central differences, the shared reference data, entry-point
processes."""

import os

import jax
import numpy as np
import pytest

import preloaded

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


@pytest.fixture
def x64():
  """Float64 inside one test only (the project's figures are float32)."""
  previous = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", True)
  try:
    yield
  finally:
    jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def central_difference():
  """``grad(fn, x, eps)``: ∇fn at x by central differences in float64, one coordinate at a time."""

  def grad(fn, x, eps):
    x = np.asarray(x, np.float64)
    result = np.zeros_like(x)
    for i in range(x.size):
      step = np.zeros_like(x)
      step[i] = eps
      result[i] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return result

  return grad


@pytest.fixture
def shared_data():
  """The folder of published reference samples; skips the test when it is absent."""
  if not os.path.isdir(SHARED_DATA):
    pytest.skip(f"reference data folder {SHARED_DATA} not present")
  return SHARED_DATA


@pytest.fixture(scope="session")
def run_module(tmp_path_factory):
  """Runs ``python -m <module> <args>`` from the repository root; returns (returncode, stdout,
  stderr).

  The commands fork from one preloaded process (``preloaded.Server``), which spares each the
  imports; all runs of a session share one compilation cache, kept out of the user's home.
  """
  cache = str(tmp_path_factory.mktemp("xla_cache"))
  ours = {"DIFFSAMPLERS_XLA_CACHE": cache, "JAX_PLATFORMS": "cpu"}
  server = preloaded.Server(dict(os.environ, **ours))

  def run(module: str, *args: str, timeout: float = 600) -> preloaded.Finished:
    # The environment of the call, e.g. a test's monkeypatched XLA_FLAGS.
    return server.run([[module, *args]], env=dict(os.environ, **ours), timeout=timeout)[0]

  yield run
  server.close()

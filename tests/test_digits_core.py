"""The shared digits pieces: data split, DDPM schedules/samplers, classifier metrics, caching."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import metrics as digit_metrics
from common.digits import models as digit_models
from common.infra import io
from common.networks import classifier
from common.networks import residual_mlp
from common.training import fitting


def test_split_shapes_range_and_strata():
  data = digits.load()
  assert data.x_train.shape == (1497, 64) and data.x_test.shape == (300, 64)
  assert data.x_train.dtype == np.float32
  assert data.x_train.min() == -1.0 and data.x_train.max() == 1.0
  counts = np.bincount(data.y_test, minlength=10)
  assert counts.sum() == 300 and counts.min() >= 29 and counts.max() <= 31  # stratified
  # No image is in both parts (the split is of rows; digits has no exact duplicates across it).
  assert len({row.tobytes() for row in data.x_train} & {row.tobytes() for row in data.x_test}) == 0
  assert np.array_equal(digits.to_unit_range(np.array([0, 8, 16])), [-1.0, 0.0, 1.0])


def test_schedules():
  linear = ddpm.linear_schedule()
  np.testing.assert_allclose(np.asarray(linear.betas)[[0, -1]], [1e-4, 0.02], rtol=1e-5)
  np.testing.assert_allclose(linear.alpha_bars[-1], np.prod(1 - np.linspace(1e-4, 0.02, 1000)),
                             rtol=1e-4)
  cosine = ddpm.cosine_schedule(200)
  assert np.all(np.diff(np.asarray(cosine.alpha_bars)) < 0) and cosine.betas.max() <= 0.999
  assert ddpm.ddim_timesteps(50, 1000)[[0, 1, -1]].tolist() == [980, 960, 0]


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_samplers_with_the_exact_eps_of_a_gaussian(sampler):
  """For x₀ ~ N(0, s²I), ε*(x, t) = √(1−ᾱ_t) x / (ᾱ_t s² + 1 − ᾱ_t); samples have std ≈ s."""
  schedule, s = ddpm.linear_schedule(), 0.5
  exact = lambda x, t: (jnp.sqrt(1 - schedule.alpha_bars[t]) * x
                        / (schedule.alpha_bars[t] * s**2 + 1 - schedule.alpha_bars[t]))
  key_init, key_noise = jax.random.split(jax.random.key(0))
  x_init = jax.random.normal(key_init, (4000, 8))
  if sampler == "ancestral":
    out = jax.jit(lambda k, x: ddpm.ancestral_sample(k, exact, schedule, x))(key_noise, x_init)
    assert out.shape == x_init.shape and abs(float(jnp.std(out)) - s) < 0.02
  else:  # deterministic and linear in x here: x₀ = Π_t c_t x_T, with c_t from the DDIM update
    steps = ddpm.ddim_timesteps(50, 1000)
    out = jax.jit(lambda x: ddpm.ddim_sample(exact, schedule, steps, x))(x_init)
    alpha_bars = np.asarray(schedule.alpha_bars, np.float64)[steps]
    factor = 1.0
    for alpha_bar, alpha_bar_prev in zip(alpha_bars, np.append(alpha_bars[1:], 1.0)):
      k = np.sqrt(1 - alpha_bar) / (alpha_bar * s**2 + 1 - alpha_bar)
      factor *= (np.sqrt(alpha_bar_prev / alpha_bar) * (1 - np.sqrt(1 - alpha_bar) * k)
                 + np.sqrt(1 - alpha_bar_prev) * k)
    np.testing.assert_allclose(out, factor * x_init, rtol=1e-4, atol=1e-5)
    assert abs(factor - s) < 0.05  # 50 steps of the probability-flow ODE land close to s


def test_eps_network_shapes_and_loss_decreases():
  network = residual_mlp.ResidualMLP(64, width=64, num_blocks=2)
  params = network.init(jax.random.key(0), jnp.zeros((1, 64)), jnp.zeros(()))
  assert network.apply(params, jnp.zeros((5, 64)), jnp.full((5,), 3.5)).shape == (5, 64)
  conditional = network.init(jax.random.key(0), jnp.zeros((1, 64)), jnp.zeros(()), jnp.zeros(1))
  assert network.apply(conditional, jnp.zeros((5, 64)), 3.5, jnp.ones((5,))).shape == (5, 64)
  schedule = ddpm.linear_schedule()
  loss = lambda p, k, batch: ddpm.eps_loss(network.apply, p, schedule, k, batch[0])
  _, losses = fitting.fit(jax.random.key(1), params, loss, optax.adam(1e-3),
                          (digits.load().x_train,), batch_size=128, num_steps=300, label=None)
  assert losses[-50:].mean() < 0.5 * losses[:10].mean()


@pytest.fixture(scope="module")
def evaluator():
  data = digits.load()
  params = classifier.Classifier().init(jax.random.key(0), jnp.zeros((1, 64)))
  params, _ = fitting.fit(jax.random.key(1), params, digit_metrics.classifier_loss,
                          optax.adam(1e-3), (data.x_train, data.y_train), batch_size=128,
                          num_steps=600, label=None)
  return digit_metrics.Evaluator(params, data)


def test_frechet_distance_closed_form():
  """Diagonal covariances: FD = ‖Δμ‖² + Σ (√a − √b)²."""
  a = digit_metrics.FeatureStats(np.array([0.0, 1.0]), np.diag([1.0, 4.0]))
  b = digit_metrics.FeatureStats(np.array([1.0, 1.0]), np.diag([4.0, 9.0]))
  assert digit_metrics.frechet_distance(a, b) == pytest.approx(1.0 + 1.0 + 1.0, abs=1e-9)


def test_clf_fd_self_zero_and_gaussian_worse(evaluator):
  data = evaluator.data
  assert evaluator.accuracy(data.x_test, data.y_test) > 0.93
  on_test = evaluator(data.x_test)
  assert on_test["clf_fd_test"] < 1e-6
  train_metrics = evaluator(data.x_train)
  assert train_metrics["clf_fd_train"] < 1e-6 and train_metrics["memorisation_ratio"] == 0.0
  rng = np.random.default_rng(0)
  gaussian = rng.multivariate_normal(data.x_train.mean(0), np.cov(data.x_train.T), 300)
  on_gaussian = evaluator(gaussian.astype(np.float32))
  assert on_gaussian["clf_fd_train"] > 2.0 * on_test["clf_fd_train"]
  assert on_gaussian["confidence"] < on_test["confidence"]
  assert 2.2 < on_test["class_entropy"] <= np.log(10) + 1e-9


def test_params_round_trip_and_cache(tmp_path):
  params = {"a": jnp.arange(3.0), "b": {"c": jnp.ones((2, 2))}}
  io.save_params(str(tmp_path / "p.msgpack"), params)
  loaded = io.load_params(str(tmp_path / "p.msgpack"), jax.tree.map(jnp.zeros_like, params))
  assert jax.tree.all(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), params, loaded))
  messages = []
  first = digit_models.train_or_load_classifier(str(tmp_path), log=messages.append)
  again = digit_models.train_or_load_classifier(str(tmp_path), log=messages.append)
  assert messages[0].startswith("trained") and messages[1].startswith("loaded")
  assert jax.tree.all(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), first, again))

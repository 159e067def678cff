"""DiKL training: the surrogate's gradient, the levels, and tiny ``dikl.train`` runs."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common.networks import mlp
from common.targets import benchmarks as targets
from configs import dikl_dw
from configs import dikl_mog
from dikl import dikl
from dikl import posterior
from dikl import presets


def test_vp_levels_follow_the_cumulative_product():
  levels = dikl.vp_levels(1e-4, 0.7, 30)
  betas = np.linspace(1e-4, 0.7, 30)
  alpha_bar = np.cumprod(1 - betas)[1:]
  assert levels.alpha.shape == (29,)
  np.testing.assert_allclose(levels.alpha, np.sqrt(alpha_bar), rtol=1e-5)
  np.testing.assert_allclose(levels.alpha**2 + levels.sigma**2, 1.0, rtol=1e-6)


def _gaussian_kl(a, u, b, v):
  """KL(N(a, u² I) ‖ N(b, v² I)) in dimension len(a)."""
  d = a.shape[0]
  return d * jnp.log(v / u) + (d * u**2 + jnp.sum((a - b) ** 2)) / (2 * v**2) - d / 2


def test_surrogate_gradient_is_the_diffusive_kl_gradient_on_gaussians():
  # Generator g(z) = μ + s z, target N(m, S² I): both noisy laws are Gaussian, so the exact
  # scores go into the surrogate and its gradient must be ∇_θ KL(q_θ,t ‖ p_t) (He et al., eq. 9).
  alpha, sigma = 0.8, 0.6
  m, big_s = jnp.array([1.0, 0.0]), 1.2
  theta = {"mu": jnp.array([0.5, -1.0]), "s": jnp.float32(0.8)}
  n = 400_000
  z, eps = jax.random.normal(jax.random.key(0), (2, n, 2))

  def noisy(params):
    return alpha * (params["mu"] + params["s"] * z) + sigma * eps

  x_t = noisy(theta)
  q_var = alpha**2 * theta["s"] ** 2 + sigma**2
  p_var = alpha**2 * big_s**2 + sigma**2
  model_score = -(x_t - alpha * theta["mu"]) / q_var
  target_score = -(x_t - alpha * m) / p_var
  weight = jnp.ones((n,))
  grads = jax.grad(lambda p: dikl.surrogate_loss(noisy(p), model_score, target_score, weight))(
      theta)
  exact = jax.grad(lambda p: _gaussian_kl(alpha * p["mu"], jnp.sqrt(alpha**2 * p["s"] ** 2
                                                                      + sigma**2),
                                          alpha * m, jnp.sqrt(p_var)))(theta)
  np.testing.assert_allclose(grads["mu"], exact["mu"], atol=5e-3)
  np.testing.assert_allclose(grads["s"], exact["s"], atol=5e-3)


def _frozen_score_config(batch_size, **fields):
  """The MoG-40 quick preset with one DSM step at a vanishing learning rate, so that the score
  network keeps its zero output (its last layer starts at zero), and ``batch_size`` samples."""
  config = dikl_mog.get_config("quick")
  config.score_lr, config.score_steps = 1e-30, 1
  config.batch_size = config.score_batch_size = batch_size
  config.update(fields)
  return config


def _first_iteration_info(config, key=1, *, exact_noisy_score, **sampler_kwargs):
  sampler = presets.make_sampler(config, targets.get_target("mog"),
                                 target_score=posterior.exact_noisy_score(exact_noisy_score),
                                 **sampler_kwargs)
  return jax.jit(sampler.step)(jax.random.key(key), sampler.init(jax.random.key(0)))[1]


def test_exact_noisy_score_replaces_the_posterior_estimate():
  # A constant "exact" score c and the zero score network: with w = 1 the iteration's
  # ‖w(s_φ − ŝ_d)‖² must be ‖c‖² exactly, which no posterior draw would give.
  c = jnp.array([3.0, -4.0])
  info = _first_iteration_info(_frozen_score_config(8, weight="one"),
                               exact_noisy_score=lambda x_t, alpha, sigma: c)
  np.testing.assert_allclose(info.score_difference, 25.0, rtol=1e-5)
  assert info.acceptance == 1.0


def test_weight_is_the_named_power_of_one_over_alpha():
  # One sample, the same key for each weight, so the same level: with the constant "exact" score
  # c and a zero score network, ‖w(s_φ − ŝ_d)‖² = ‖c‖² α^(−2p) for w = α^(−p).
  config = _frozen_score_config(1)
  trainer_levels = dikl.vp_levels(config.beta_start, config.beta_end, config.num_levels)
  differences = {}
  for name in ("one", "inv_alpha", "inv_alpha_squared"):
    info = _first_iteration_info(_frozen_score_config(1, weight=name),
                                 exact_noisy_score=lambda x_t, alpha, sigma: jnp.array([3.0, -4.0]))
    differences[name] = float(info.score_difference)
  np.testing.assert_allclose(differences["one"], 25.0, rtol=1e-5)
  alpha = (differences["one"] / differences["inv_alpha"]) ** 0.5
  assert np.min(np.abs(np.asarray(trainer_levels.alpha) - alpha)) < 1e-4 * alpha
  np.testing.assert_allclose(differences["inv_alpha_squared"], 25.0 / alpha**4, rtol=1e-4)


def test_score_weight_scales_the_dsm_loss_by_the_normalised_power():
  # One DSM sample, the same key for both weights, and a zero-output score network: the loss is
  # w_l ‖ε‖², so the ratio of the two losses is the weight of the drawn level l, which must be
  # (1/α_l) / mean_t(1/α_t).
  config = _frozen_score_config(1)
  losses = {}
  for name in ("one", "inv_alpha"):
    info = _first_iteration_info(_frozen_score_config(1, score_weight=name), key=3,
                                 exact_noisy_score=lambda x_t, alpha, sigma: jnp.zeros(2))
    losses[name] = float(info.score_loss)
  inverse_alpha = 1.0 / np.asarray(dikl.vp_levels(config.beta_start, config.beta_end,
                                                  config.num_levels).alpha)
  level_weight = losses["inv_alpha"] / losses["one"]
  assert np.min(np.abs(inverse_alpha / inverse_alpha.mean() - level_weight)) < 1e-4 * level_weight


def _iterates(config, num_iterations):
  """The initial generator and (generator, generator_ema) after each of the first iterations of
  a tiny MoG-40 run."""
  sampler = presets.make_sampler(config, targets.get_target("mog"))
  state, iteration = sampler.init(jax.random.key(0)), jax.jit(sampler.step)
  initial, out = state.generator, []
  for i in range(num_iterations):
    state, _ = iteration(jax.random.key(i), state)
    out.append((state.generator, state.generator_ema))
  return initial, out


def test_generator_ema_is_the_moving_average_of_the_iterates():
  decay = 0.75
  average, iterates = _iterates(_frozen_score_config(8, generator_ema_decay=decay), 3)
  for generator, generator_ema in iterates:
    average = jax.tree.map(lambda a, g: decay * a + (1 - decay) * g, average, generator)
    for a, e in zip(jax.tree.leaves(average), jax.tree.leaves(generator_ema)):
      np.testing.assert_allclose(e, a, rtol=1e-5, atol=1e-7)
  # The generator moved, so the average lags behind it.
  last_generator, last_ema = iterates[-1]
  assert max(float(jnp.max(jnp.abs(g - e))) for g, e in
             zip(jax.tree.leaves(last_generator), jax.tree.leaves(last_ema))) > 1e-6
  # With d = 0 (the default) the average is the generator itself, bit for bit.
  for generator, generator_ema in _iterates(_frozen_score_config(8, generator_ema_decay=0.0), 2)[1]:
    for g, e in zip(jax.tree.leaves(generator), jax.tree.leaves(generator_ema)):
      np.testing.assert_array_equal(e, g)


def test_kernel_noisy_score_is_the_empirical_laws_noisy_score():
  x_t = jnp.array([0.7, -1.2])
  # All samples at c: the noisy law is N(α c, σ² I), score (α c − x_t)/σ² exactly.
  c = jnp.array([2.0, 1.0])
  np.testing.assert_allclose(dikl.kernel_noisy_score(x_t, 0.6, 0.8, jnp.tile(c, (5, 1))),
                             (0.6 * c - x_t) / 0.64, rtol=1e-5)
  # 10⁵ draws of N(0, I): the noisy law is N(0, (α² + σ²) I), score −x_t/(α² + σ²).
  samples = jax.random.normal(jax.random.key(0), (100_000, 2))
  np.testing.assert_allclose(dikl.kernel_noisy_score(x_t, 0.6, 0.5, samples), -x_t / 0.61,
                             atol=0.02)


def test_kernel_model_score_replaces_the_score_network():
  # A generator stuck at 0 (output_scale 0) has the noisy score −x_t/σ²; given as the "exact"
  # target score, the kernel estimate must cancel it, while the score network (zero output, as
  # in the test above) leaves ‖x_t‖²/σ⁴ > 0.
  config = _frozen_score_config(8, weight="one", output_scale=0.0)
  dirac_score = lambda x_t, alpha, sigma: -x_t / sigma**2
  differences = []
  for kernel_samples in (0, 16):
    info = _first_iteration_info(config, exact_noisy_score=dirac_score,
                                 kernel_model_score=kernel_samples)
    differences.append(float(info.score_difference))
  assert differences[0] > 1.0
  assert differences[1] < 1e-6 * differences[0]
  with pytest.raises(ValueError, match="kernel_model_score"):
    presets.make_sampler(dikl_dw.get_config("quick"), targets.get_target("dw"),
                         kernel_model_score=4)


TINY = ["--config.generator_hidden=8", "--config.generator_layers=1", "--config.score_hidden=8",
        "--config.score_layers=1", "--config.batch_size=16", "--config.score_batch_size=16",
        "--config.score_steps=2", "--config.num_importance=4", "--config.mala_steps=2",
        "--config.chunk_size=2", "--config.checkpoint_every=2", "--config.num_samples=64"]


def _train(run_module, tmp_path, name, *extra):
  done = run_module("dikl.train", "--target=dw", "--preset=quick", f"--file_path={tmp_path}",
                    f"--expe_name={name}", *TINY, *extra)
  assert done.returncode == 0, done.stderr[-3000:]
  return tmp_path / name


def test_tiny_run_writes_outputs_resumes_bit_for_bit_and_evaluates(run_module, tmp_path):
  full = _train(run_module, tmp_path, "full", "--config.num_iterations=4")
  assert (full / "checkpoints" / "4").is_dir()
  for name in ("config.json", "generator.msgpack", "samples.npy",
               "metrics.json", "dikl_dw.png", "hist_score_loss.npy", "hist_generator_loss.npy"):
    assert (full / name).is_file(), name
  samples = np.load(full / "samples.npy")
  assert samples.shape == (64, 8) and np.isfinite(samples).all()
  np.testing.assert_allclose(samples.reshape(64, 4, 2).mean(1), 0.0, atol=1e-5)  # zero CoM
  assert np.load(full / "hist_score_loss.npy").shape == (4,)
  # --target=dw without --config: the dw quick preset, with the --config.<field> overrides.
  written = json.loads((full / "config.json").read_text())
  assert (written["method"], written["target"], written["preset"]) == ("dikl", "dw", "quick")
  metrics = json.loads((full / "metrics.json").read_text())
  assert metrics["model_evaluations"] == 4 * (written["score_batch_size"] * (
      1 + written["score_steps"]) + 3 * written["batch_size"])
  assert metrics["sampling_time_s"] > 0
  assert (written["data_std"], written["num_iterations"], written["score_hidden"]) == (1.5, 4, 8)

  _train(run_module, tmp_path, "split", "--config.num_iterations=2")
  resumed = _train(run_module, tmp_path, "split", "--config.num_iterations=4", "--resume")
  np.testing.assert_array_equal(np.load(resumed / "samples.npy"), samples)
  np.testing.assert_array_equal(np.load(resumed / "hist_score_loss.npy"),
                                np.load(full / "hist_score_loss.npy"))

  out = tmp_path / "eval"
  done = run_module("dikl.eval", "--target=dw", f"--model_path={full / 'generator.msgpack'}",
                    f"--reference={full / 'samples.npy'}", "--num_samples=64",
                    "--eval_size=32", "--repeats=2", f"--save_dir={out}")
  assert done.returncode == 0, done.stderr[-3000:]
  assert (out / "metrics.csv").read_text().splitlines()[1].startswith("model,")
  assert (out / "histograms.png").is_file()


@pytest.mark.parametrize("module, args, message", [
    ("dikl.train", ["--target=mog", "--config.num_iterations=0"], "config.num_iterations"),
    ("dikl.train", ["--target=mog", "--method=fkl"], "method"),
    ("dikl.train", ["--target=dw", "--config=configs/dikl_mog.py:quick"], "not 'dw'"),
    ("dikl.train", ["--target=mog", "--preset=quick", "--resume"], "no checkpoint"),
    ("dikl.eval", ["--target=dw", "--model_path=missing.msgpack"], "does not exist"),
    ("dikl.eval", ["--target=mog", "--model_path=a", "--sample_path=b"], "exactly one"),
])
def test_bad_flags_exit_2_with_one_line(run_module, tmp_path, module, args, message):
  out = tmp_path / "never"
  done = run_module(module, *args, f"--file_path={out}", f"--save_dir={out}"
                    if module == "dikl.eval" else "--expe_name=never")
  assert done.returncode == 2, done.stderr[-2000:]
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and message in lines[0], done.stderr[-2000:]
  assert not out.exists()


def test_default_folder_is_named_after_the_configurations_preset(run_module, tmp_path):
  # --config=<file>:quick without --preset (whose default is paper) is a quick run; --resume
  # looks for its checkpoints in the default folder and names it in the error, before training.
  done = run_module("dikl.train", "--target=mog", "--config=configs/dikl_mog.py:quick",
                    "--resume", f"--file_path={tmp_path}")
  assert done.returncode == 2, done.stderr[-2000:]
  assert f"{tmp_path / 'dikl_mog_quick' / 'checkpoints'}" in done.stderr, done.stderr[-2000:]


class _TwoLayerGenerator(nn.Module):
  """A user's own generator: latents (N, 3) -> samples (N, 2)."""

  @nn.compact
  def __call__(self, z):
    return nn.Dense(2)(nn.tanh(nn.Dense(16)(z)))


def test_a_user_defined_flax_generator_trains_through_the_factory():
  # A 2-D standard Gaussian target, posterior-sampled ŝ_d; two jitted steps must move the
  # user's generator and keep every diagnostic finite; samples come out as (n, dim).
  energy = lambda x: 0.5 * jnp.sum(x**2)
  sampler = dikl.dikl(
      generator=_TwoLayerGenerator(), score_network=mlp.FourierTimeMLP((16,), 2, 4),
      target_score=posterior.make_noisy_score(energy, num_importance=4, mala_steps=2),
      generator_optimizer=optax.adam(1e-2), score_optimizer=optax.adam(1e-3), dim=2,
      latent_dim=3, batch_size=8, score_batch_size=8, score_steps=2, num_levels=5)
  state = initial = sampler.init(jax.random.key(0))
  step = jax.jit(sampler.step)
  for i in range(2):
    state, info = step(jax.random.key(i + 1), state)
    assert all(np.isfinite(value) for value in info)
  assert isinstance(state, dikl.DiKLState) and isinstance(info, dikl.DiKLInfo)
  assert any(float(jnp.max(jnp.abs(a - b))) > 0 for a, b in
             zip(jax.tree.leaves(state.generator), jax.tree.leaves(initial.generator)))
  samples = sampler.sample(jax.random.key(9), state.generator_ema, 5)
  assert samples.shape == (5, 2) and np.isfinite(samples).all()

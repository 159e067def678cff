"""DxMI (Yoon et al. 2024): the pieces of one iteration against hand computations, and the 2-D
entry point end to end."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common.diffusion import ddpm
from common.infra import io
from common.training import replay_buffer
from dxmi import algorithm
from dxmi import fastdpm
from dxmi import policy as policy_lib

DIM = 3


def _policy(num_steps=4):
  """A policy whose ε-network is ε = w·x (one scalar parameter), on the VAR schedule."""
  schedule = fastdpm.var_schedule(num_steps)
  eps_fn = lambda params, x, tau: params["w"] * x
  return policy_lib.make_policy(eps_fn, schedule, DIM), schedule


def _value_fn(params, x, t):
  """V(x, t) = a_t ‖x‖² / 2 + b (a per-step curvature, one offset)."""
  return 0.5 * params["a"][t] * jnp.sum(x**2, -1) + params["b"]


def test_time_cost_telescopes():
  """Σ_t R(t) = s(S/2) − s(−S/2): the sigmoid cost only shifts V(x_0) against V(x_S)."""
  steps = jnp.arange(5)
  total = algorithm.time_cost(steps, 5, "sigmoid", 0.0).sum()
  np.testing.assert_allclose(total, jax.nn.sigmoid(2.5) - jax.nn.sigmoid(-2.5), rtol=1e-6)
  np.testing.assert_allclose(algorithm.time_cost(steps, 5, "linear", 0.05), 0.05)
  with pytest.raises(ValueError, match="time cost"):
    algorithm.time_cost(steps, 5, "cubic", 0.0)


def test_policy_mean_and_last_std():
  policy, schedule = _policy()
  params = policy_lib.init_sampler_params(policy, {"w": jnp.float32(0.5)}, schedule.std)
  x = jax.random.normal(jax.random.key(0), (6, DIM))
  t = jnp.array([0, 1, 2, 3, 0, 3])
  expected = (schedule.x_coef[t] + 0.5 * schedule.eps_coef[t])[:, None] * x
  np.testing.assert_allclose(policy_lib.policy_mean(policy, params, x, t), expected, rtol=1e-5)
  np.testing.assert_allclose(policy_lib.step_std(policy, params, jnp.arange(4)), schedule.std,
                             rtol=1e-5)
  moved = {**params, "log_std": params["log_std"] + 1.0}
  assert policy_lib.step_std(policy, moved, jnp.array(3)) == pytest.approx(fastdpm.LAST_STEP_STD)


def test_capped_std_round_trip_saturation_and_learned_last_step():
  """σ_t = σ_max sigmoid(ρ_t − log σ_max): init inverts it, σ_t ≈ exp(ρ_t) far below the cap,
  never exceeds the cap, and with ``learn_last_std`` the last σ follows its parameter."""
  schedule = fastdpm.var_schedule(4)
  eps_fn = lambda params, x, tau: params["w"] * x
  capped = policy_lib.make_policy(eps_fn, schedule, DIM, std_max=2.0, learn_last_std=True)
  params = policy_lib.init_sampler_params(capped, {"w": jnp.float32(0.0)}, schedule.std)
  np.testing.assert_allclose(policy_lib.step_std(capped, params, jnp.arange(4)), schedule.std,
                             rtol=1e-5)
  small = {**params, "log_std": jnp.full((4,), -8.0)}
  np.testing.assert_allclose(policy_lib.step_std(capped, small, jnp.arange(4)), np.exp(-8.0),
                             rtol=1e-3)
  huge = {**params, "log_std": jnp.full((4,), 50.0)}
  stds = np.asarray(policy_lib.step_std(capped, huge, jnp.arange(4)))
  assert np.all(stds <= 2.0) and np.all(stds > 1.999)
  with pytest.raises(ValueError, match="std_max"):
    policy_lib.init_sampler_params(capped, {"w": jnp.float32(0.0)}, np.full(4, 2.5))


def test_trajectory_moments_match_the_linear_chain():
  """With ε = w x every step is x ← c_t x + σ_t ξ, so Var x_S = Π c² + Σ_t σ_t² Π_{s>t} c_s²."""
  policy, schedule = _policy()
  params = policy_lib.init_sampler_params(policy, {"w": jnp.float32(0.3)}, schedule.std)
  xs = policy_lib.sample_trajectory(policy, params, jax.random.key(1), 200_000)
  assert xs.shape == (5, 200_000, DIM)
  coef = schedule.x_coef + 0.3 * schedule.eps_coef
  variance = 1.0
  for c, s in zip(coef, schedule.std):
    variance = c**2 * variance + s**2
  np.testing.assert_allclose(np.var(np.asarray(xs[-1])), variance, rtol=0.01)


def test_value_guidance_is_minus_lambda_sigma_grad_v():
  """x ← x − λ σ_t ∇V(x, t+1); for V = a_{t+1} ‖x‖²/2 the shift is −λ σ_t a_{t+1} x."""
  policy, schedule = _policy()
  params = policy_lib.init_sampler_params(policy, {"w": jnp.float32(0.0)}, schedule.std)
  value = {"a": jnp.arange(1.0, 6.0), "b": jnp.float32(3.0)}
  guidance = policy_lib.value_guidance(policy, _value_fn, value, params, strength=0.5)
  x = jax.random.normal(jax.random.key(7), (4, DIM))
  t = jnp.array([0, 1, 2, 3])
  expected = -0.5 * schedule.std[np.asarray(t)][:, None] * np.arange(2.0, 6.0)[:, None] * x
  np.testing.assert_allclose(guidance(x, t), expected, rtol=1e-5)


def _setup(**hyperparameters):
  policy, schedule = _policy()
  dxmi = algorithm.dxmi(policy=policy, value_fn=_value_fn, **hyperparameters)
  sampler = policy_lib.init_sampler_params(policy, {"w": jnp.float32(0.3)}, schedule.std)
  value = {"a": jnp.full((5,), 0.1), "b": jnp.float32(0.0)}
  return dxmi, dxmi.init(jax.random.key(2), sampler, value)


def test_one_iteration_avr_energy_direction_and_buffer():
  dxmi, state = _setup(policy_batch=64, buffer_capacity=64 * 4 * 3,
                       value_optimizer=optax.adam(1e-2),
                       sampler_optimizer=algorithm.sampler_optimizer(1e-3))
  data = 0.1 * jax.random.normal(jax.random.key(3), (64, DIM))  # data sit near 0
  key = jax.random.key(4)
  new_state, info = jax.jit(dxmi.step)(key, state, data)
  # The step's fresh trajectory: drawn with the first of the three keys split from its key.
  policy, _ = _policy()
  trajectory = np.asarray(policy_lib.sample_trajectory(
      policy, state.sampler_params, jax.random.split(key, 3)[0], 64))
  # AVR (eq. 12): s_t² ← m s_t² + (1 − m) mean over the batch and d of (x_{t+1} − x_t)².
  increments = np.mean((trajectory[1:] - trajectory[:-1]) ** 2, axis=(1, 2))
  m = 0.99  # the default AVR momentum
  np.testing.assert_allclose((new_state.avr - m * state.avr) / (1 - m), increments, rtol=1e-3)
  # The energy step lowers E(x) = a_S ‖x‖²/2 + b at the data relative to the samples x_S, which
  # lie farther from 0: it raises a_S (the TD steps after it have no gradient on a_S and only
  # carry on its Adam momentum). Compared with the old a_S, not with 0.1: float32(0.1) > 0.1.
  assert np.mean(np.asarray(data) ** 2) < np.mean(trajectory[-1] ** 2)
  assert float(new_state.value_params["a"][-1]) > float(state.value_params["a"][-1])
  assert int(new_state.buffer.size) == 64 * 4
  assert info.values.shape == (5,) and info.std.shape == (4,)
  assert float(info.std[-1]) == pytest.approx(fastdpm.LAST_STEP_STD)


def test_sample_is_the_trajectorys_last_state_and_bad_time_cost():
  """``sample(key, params, n)`` is x_S of ``sample_trajectory`` with the same key, (n, D)."""
  dxmi, state = _setup(policy_batch=8, buffer_capacity=64, value_optimizer=optax.adam(1e-3),
                       sampler_optimizer=algorithm.sampler_optimizer(1e-3))
  policy, _ = _policy()
  key = jax.random.key(9)
  samples = jax.jit(dxmi.sample, static_argnums=2)(key, state.sampler_params, 10)
  assert samples.shape == (10, DIM)
  np.testing.assert_array_equal(
      samples, policy_lib.sample_trajectory(policy, state.sampler_params, key, 10)[-1])
  with pytest.raises(ValueError, match="time cost"):
    algorithm.dxmi(policy=policy, value_fn=_value_fn, time_cost="cubic",
                   value_optimizer=optax.adam(1e-3),
                   sampler_optimizer=algorithm.sampler_optimizer(1e-3))


def test_policy_gradient_on_log_std_matches_the_closed_form():
  """With V ≡ 0, ε ≡ 0 and c_t = 1 (the identity schedule below), x_{t+1} − x_t = σ_t ξ and the
  policy loss (eq. 11) is mean_b [τ₂ σ_{t_b}² mean_d ξ_b²/(2 s_{t_b}²) − τ₁ log σ_{t_b}] over
  the B transitions drawn from the buffer, so for σ_t = exp ρ_t
  ∂/∂ρ_t = (1/B) Σ_{b: t_b = t} (τ₂ σ_t² mean_d ξ_b²/s_t² − τ₁), and 0 for the last step, whose σ
  is not learned."""
  schedule = fastdpm.var_schedule(4)
  identity = schedule._replace(x_coef=np.ones(4), eps_coef=np.zeros(4))
  policy = policy_lib.make_policy(lambda p, x, tau: jnp.zeros_like(x), identity, DIM)
  zero_value = lambda p, x, t: jnp.zeros(x.shape[0])
  dxmi = algorithm.dxmi(
      policy=policy, value_fn=zero_value, tau_entropy=0.1, tau_velocity=0.01, policy_batch=256,
      buffer_capacity=256 * 4, value_optimizer=optax.adam(1e-5),
      sampler_optimizer=algorithm.sampler_optimizer(1e-3, log_std_lr_multiplier=1.0,
                                                    grad_clip=1e6))
  sampler = policy_lib.init_sampler_params(policy, {"unused": jnp.zeros(())}, schedule.std)
  state = dxmi.init(jax.random.key(5), sampler, {"unused": jnp.zeros(())})
  key, data = jax.random.key(6), jnp.zeros((256, DIM))
  new_state, _ = jax.jit(dxmi.step)(key, state, data)

  # info.policy_loss is the loss at the state's parameters: its gradient is the one Adam takes.
  def reported_loss(log_std):
    moved = state._replace(sampler_params={**state.sampler_params, "log_std": log_std})
    return dxmi.step(key, moved, data)[1].policy_loss

  grad = np.asarray(jax.jit(jax.grad(reported_loss))(state.sampler_params["log_std"]))
  # The step's draws: its buffer holds one batch of each t; the second and third keys split
  # from its key draw the transitions and ξ; s_t² is the AVR after the step's update.
  _, buffer_key, noise_key = jax.random.split(key, 3)
  buffer = replay_buffer.add(state.buffer, {"x": jnp.zeros((4 * 256, DIM)),
                                            "t": jnp.repeat(jnp.arange(4), 256)})
  t = np.asarray(replay_buffer.sample(buffer_key, buffer, 256)["t"])
  mean_sq_xi = np.mean(np.asarray(jax.random.normal(noise_key, (256, DIM))) ** 2, axis=1)
  sigma2, avr = np.exp(2 * np.asarray(sampler["log_std"])), np.asarray(new_state.avr)
  expected = np.array([np.sum(0.01 * sigma2[s] * mean_sq_xi[t == s] / avr[s] - 0.1) / 256
                       for s in range(3)] + [0.0])
  assert len(set(t.tolist())) == 4  # every step is drawn
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-9)
  # s_t² ≈ σ_t² here, so the velocity pull τ₂ loses to the entropy push τ₁: Adam raises σ_t.
  moved = np.asarray(new_state.sampler_params["log_std"] - state.sampler_params["log_std"])
  assert np.all(moved[:3] > 0) and moved[3] == 0.0


def test_toy2d_end_to_end_and_bad_config(run_module, tmp_path):
  done = run_module("dxmi.toy2d", f"--file_path={tmp_path}", "--expe_name=toy",
                    "--config.pretrain_steps=200", "--config.iterations=40",
                    "--config.chunk_size=20", "--config.num_eval=500",
                    "--config.num_projections=50", "--config.width=32",
                    "--config.num_blocks=1")
  assert done.returncode == 0, done.stderr
  folder = tmp_path / "toy"
  assert np.load(folder / "samples.npy").shape == (500, 2)
  assert np.load(folder / "samples_plain_ddpm.npy").shape == (500, 2)
  assert np.load(folder / "hist_values.npy").shape == (40, 6)
  assert np.load(folder / "hist_std.npy").shape == (40, 5)
  metrics = json.loads((folder / "metrics.json").read_text())
  assert 0.0 <= metrics["energy_auc"] <= 1.0 and metrics["sliced_w2_dxmi"] > 0
  assert (folder / "dxmi_toy2d.png").read_bytes()[:4] == b"\x89PNG"
  bad = run_module("dxmi.toy2d", f"--file_path={tmp_path}", "--expe_name=bad",
                   "--config.tau_entropy=-1")
  assert bad.returncode == 2 and "tau_entropy" in bad.stderr
  assert not (tmp_path / "bad").exists()


def test_digits_train_then_evaluate(run_module, tmp_path):
  """A tiny DDPM (50 steps) in a fresh model folder, 20 DxMI iterations, then dxmi.evaluate."""
  models = str(tmp_path / "models")
  done = run_module("dxmi.train", f"--file_path={tmp_path}", "--expe_name=digits",
                    f"--config.model_dir={models}", "--config.ddpm_steps=50",
                    "--config.iterations=20", "--config.evaluate_every=10",
                    "--config.chunk_size=10", "--config.num_eval=64")
  assert done.returncode == 0, done.stderr
  folder = tmp_path / "digits"
  assert np.load(folder / "samples.npy").shape == (64, 64)
  assert np.load(folder / "hist_values.npy").shape == (20, 6)
  assert np.load(folder / "hist_eval.npy").shape == (2, 4)
  metrics = json.loads((folder / "metrics.json").read_text())
  assert metrics["start"]["clf_fd_test"] > 0 and len(metrics["best_std"]) == 5
  assert metrics["best_std"][-1] == pytest.approx(fastdpm.LAST_STEP_STD)
  for name in ("sampler.msgpack", "energy.msgpack", "dxmi_digits.png"):
    assert (folder / name).stat().st_size > 0, name

  evaluated = run_module("dxmi.evaluate", f"--file_path={tmp_path}", "--expe_name=eval",
                         f"--model_dir={models}", "--ddpm_steps=50", f"--run_dir={folder}",
                         "--num_samples=64", "--value_guidance=0.1")
  assert evaluated.returncode == 0, evaluated.stderr
  rows = json.loads((tmp_path / "eval" / "metrics.json").read_text())
  assert set(rows) == {"ddpm_1000", "var_quadratic_5", "var_linear_5", "step_quadratic_5",
                       "dxmi_5", "dxmi_5_guided"}
  header = (tmp_path / "eval" / "metrics.csv").read_text().splitlines()[0]
  assert header.startswith("sampler,clf_fd_train,clf_fd_test")
  missing = run_module("dxmi.evaluate", f"--file_path={tmp_path}", "--expe_name=bad",
                       f"--run_dir={tmp_path / 'nowhere'}")
  assert missing.returncode == 2 and "run_dir" in missing.stderr
  assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("flag, args", [
    ("ddpm_steps", ["--ddpm_steps=60"]),
    ("model_dir", ["--model_dir={tmp}/other_models"]),
])
def test_evaluate_refuses_a_run_of_another_ddpm(run_module, tmp_path, flag, args):
  """The baselines must come from the DDPM the run started from (its config.json): another
  one is refused before any output, with one line naming the flag."""
  run = tmp_path / "run"
  run.mkdir()
  models = str(tmp_path / "models")
  io.save_json(str(run / "config.json"), {"num_steps": 5, "spacing": "quadratic",
                                           "value_hidden": [8], "ddpm_steps": 50,
                                           "model_dir": models})
  for name in ("sampler.msgpack", "energy.msgpack"):
    io.save_params(str(run / name), {"w": np.ones(2, np.float32)})
  done = run_module("dxmi.evaluate", f"--file_path={tmp_path}", "--expe_name=out",
                    f"--model_dir={models}", "--ddpm_steps=50", f"--run_dir={run}",
                    *(a.format(tmp=tmp_path) for a in args), timeout=120)
  lines = done.stderr.strip().splitlines()
  assert done.returncode == 2 and lines[-1].startswith(f"error: --{flag}: "), done.stderr[-2000:]
  assert not (tmp_path / "out").exists()


def test_plain_ddpm_as_a_policy_matches_the_ancestral_step():
  """Step i of ``algorithm.ancestral_steps`` is ``ddpm.ancestral_sample``'s step at t = T − 1 − i:
  mean (x − β_t ε/√(1 − ᾱ_t))/√α_t and std √β̃_t, the last one noiseless (0.001)."""
  schedule = ddpm.linear_schedule(5, 1e-4, 0.99)
  steps = policy_lib.ancestral_steps(schedule)
  betas, alpha_bars = np.asarray(schedule.betas), np.asarray(schedule.alpha_bars)
  x, eps = 0.7, -1.3
  for i, t in enumerate(range(4, -1, -1)):
    assert steps.timesteps[i] == t
    mean = (x - betas[t] / np.sqrt(1 - alpha_bars[t]) * eps) / np.sqrt(1 - betas[t])
    np.testing.assert_allclose(steps.x_coef[i] * x + steps.eps_coef[i] * eps, mean, rtol=1e-5)
    if t > 0:
      posterior = betas[t] * (1 - alpha_bars[t - 1]) / (1 - alpha_bars[t])
      np.testing.assert_allclose(steps.std[i], np.sqrt(posterior), rtol=1e-5)
  assert steps.std[-1] == fastdpm.LAST_STEP_STD

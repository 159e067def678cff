r"""Implicit Diffusion, §5.1: reward training of a Langevin sampler through its stationary law.

    python -m implicit_diffusion.main --file_path=runs --expe_name=demo

writes into ``<file_path>/<expe_name>/``: ``hist_reward.npy`` (steps,), ``hist_kl_grad.npy``
(steps,), ``hist_theta.npy`` (steps, 6), ``hist_exact_reward.npy`` (steps,), ``samples.npy``
(bs, 2), ``metrics.json``, ``config.json`` and ``implicit_diffusion.png``. With
``--num_seeds=K`` the same histories of all K seeds go to ``hist_<name>_seeds.npy`` with a
leading seed axis (seeds rng_seed, ..., rng_seed + K − 1); the single-seed files hold rng_seed.
"""

import os
import time

from absl import flags
import jax
import numpy as np

from common.infra import cli
from common.infra import io
from common.training import driver
from configs import implicit_diffusion as default_config
from implicit_diffusion import algorithm as algo
from implicit_diffusion import reward as rewards

_D = default_config.get_config()
_RNG_SEED = flags.DEFINE_integer("rng_seed", _D.rng_seed, "Seed of the first run.")
_BS = flags.DEFINE_integer("bs", _D.bs, "Number of Langevin particles.")
_BS_REF = flags.DEFINE_integer("bs_ref", _D.bs_ref, "Reference draws per step (KL gradient).")
_STEPS = flags.DEFINE_integer("steps", _D.steps, "Number of outer steps (theta updates).")
_GAMMA = flags.DEFINE_float("gamma", _D.gamma, "Langevin step size.")
_ETA = flags.DEFINE_float("eta", _D.eta, "Learning rate on theta (constant).")
_LAMB_KL = flags.DEFINE_float(
    "lamb_kl", _D.lamb_kl, "Weight of KL(reference || pi_theta); > 0 pulls towards the reference.")
_REF_STD = flags.DEFINE_float("ref_std", _D.ref_std, "Per-component std of the reference mixture.")
_REWARD = flags.DEFINE_enum("reward", _D.reward, list(rewards.REWARDS), "Reward function.")
_PRINT_EVERY = flags.DEFINE_integer("print_every", _D.print_every, "Progress every N steps.")
_LOG_OPTION = flags.DEFINE_bool("log_option", True, "Write the per-step histories hist_*.npy.")
_PRINT_OPTION = flags.DEFINE_bool("print_option", True, "Print progress.")
_SAVE_OPTION = flags.DEFINE_bool("save_option", True, "Write the outputs to disk.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", _D.num_seeds, "Seeds run at once with vmap.")
_INNER_STEPS = flags.DEFINE_integer(
    "inner_steps", _D.inner_steps, "Langevin steps per theta update (1 = single loop).")
_WARM_START = flags.DEFINE_bool(
    "warm_start", _D.warm_start, "Nested loop: continue the chain (else restart from N(0, I)).")
_EXACT_GRADIENT = flags.DEFINE_bool(
    "exact_gradient", _D.exact_gradient, "Run the exact gradient flow (quadrature) instead.")
_RUN = cli.define_run_flags("implicit_diffusion", resume=False)

_FLAGS_RECORDED = [
    "rng_seed", "bs", "bs_ref", "steps", "gamma", "eta", "lamb_kl", "ref_std", "reward",
    "print_every", "log_option", "print_option", "save_option", "num_seeds", "inner_steps",
    "warm_start", "exact_gradient", "file_path", "expe_name",
]


def _validate() -> None:
  cli.check(_STEPS.value >= 1, "steps", f"must be at least 1, got {_STEPS.value}")
  cli.check(_BS.value >= 1, "bs", f"must be at least 1, got {_BS.value}")
  cli.check_batch_size(_BS.value, "bs")
  cli.check(_BS_REF.value >= 1, "bs_ref", f"must be at least 1, got {_BS_REF.value}")
  cli.check(_GAMMA.value > 0, "gamma", f"must be positive, got {_GAMMA.value}")
  cli.check(_ETA.value > 0, "eta", f"must be positive, got {_ETA.value}")
  cli.check(_LAMB_KL.value >= 0, "lamb_kl", f"must be non-negative, got {_LAMB_KL.value}")
  cli.check(_REF_STD.value > 0, "ref_std", f"must be positive, got {_REF_STD.value}")
  cli.check(_PRINT_EVERY.value >= 1, "print_every", f"must be at least 1, got {_PRINT_EVERY.value}")
  cli.check(_NUM_SEEDS.value >= 1, "num_seeds", f"must be at least 1, got {_NUM_SEEDS.value}")
  cli.check(_INNER_STEPS.value >= 1, "inner_steps",
            f"must be at least 1, got {_INNER_STEPS.value}")
  cli.check(not (_EXACT_GRADIENT.value and _NUM_SEEDS.value > 1), "num_seeds",
            "the exact gradient flow is deterministic; use --num_seeds=1 with it")
  for particle_flag in (_GAMMA, _BS_REF, _INNER_STEPS, _WARM_START):
    # The flow has no particles: a value set here would be silently ignored.
    cli.check(not (_EXACT_GRADIENT.value and particle_flag.value != particle_flag.default),
              particle_flag.name, "unused by the exact gradient flow; leave it at its default "
              f"({particle_flag.default}) with --exact_gradient")


def _particle_run(theta_init, component_rewards):
  hyperparameters = dict(num_particles=_BS.value, num_reference=_BS_REF.value,
                         theta_init=theta_init, reference_std=_REF_STD.value)
  algorithm = algo.implicit_diffusion(
      reward_fn=rewards.REWARDS[_REWARD.value], component_rewards=component_rewards,
      step_size=_GAMMA.value, learning_rate=_ETA.value, kl_weight=_LAMB_KL.value,
      inner_steps=_INNER_STEPS.value, warm_start=_WARM_START.value, **hyperparameters)
  single_loop = _INNER_STEPS.value == 1 and _WARM_START.value
  seeds = _RNG_SEED.value + np.arange(_NUM_SEEDS.value)
  progress = cli.Progress(_STEPS.value) if _PRINT_OPTION.value else (lambda *a, **k: None)
  initial, state, infos = algo.run(
      algorithm, seeds, _STEPS.value, _PRINT_EVERY.value,
      on_chunk=lambda done, out: progress(done, reward=out.reward[-1, 0],
                                          kl_grad=out.kl_grad_norm[-1, 0]),
      draw=algo.single_loop_draw(**hyperparameters) if single_loop else None)
  # Scan outputs are (steps, seeds, ...); histories are seed-major.
  histories = {"reward": infos.reward.T, "kl_grad": infos.kl_grad_norm.T,
               "theta": np.swapaxes(infos.theta, 0, 1),
               "exact_reward": infos.exact_reward.T}
  return histories, state.particles, state.theta, initial.particles[0]


def _exact_run(theta_init, component_rewards):
  flow = algo.exact_gradient_flow(
      component_rewards=component_rewards, theta_init=theta_init, learning_rate=_ETA.value,
      kl_weight=_LAMB_KL.value, reference_std=_REF_STD.value)
  key = jax.random.key(_RNG_SEED.value)  # the flow's keys are unused; it draws its samples
  theta, infos = driver.train(
      flow.step, flow.init(key), key, num_steps=_STEPS.value, chunk_size=_PRINT_EVERY.value,
      progress_fields=("exact_reward", "kl_grad_norm"), progress=_PRINT_OPTION.value)
  histories = {"reward": infos["exact_reward"], "kl_grad": infos["kl_grad_norm"],
               "theta": infos["theta"], "exact_reward": infos["exact_reward"]}
  samples = flow.sample(key, theta, _BS.value)
  return ({name: h[None] for name, h in histories.items()}, np.asarray(samples)[None],
          np.asarray(theta)[None], None)


def _metrics(histories, thetas, component_rewards, theta_init, elapsed) -> dict:
  final_weights = algo.mixture_weights(thetas)
  exact_final = final_weights @ component_rewards
  last = min(500, _STEPS.value)
  metrics = {
      "component_rewards": component_rewards,
      "final_theta": thetas[0],
      "final_weights": final_weights[0],
      "final_exact_reward": float(exact_final[0]),
      "mean_reward_last_steps": float(np.mean(histories["reward"][0, -last:])),
      "last_steps": last,
      "theta_sum_max_deviation": float(
          np.max(np.abs(histories["theta"].sum(-1) - theta_init.sum()))),
      "wall_time_s": elapsed,
  }
  if _NUM_SEEDS.value > 1:
    metrics["final_weights_seed_mean"] = final_weights.mean(0)
    metrics["final_exact_reward_seeds"] = exact_final
  return metrics


def main(argv) -> None:
  del argv
  _validate()
  folder = None
  if _SAVE_OPTION.value:
    cli.preload("implicit_diffusion.figures")
    folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
    cli.write_config(folder, {**cli.flag_values(_FLAGS_RECORDED), "theta_init": _D.theta_init})

  start = time.perf_counter()
  reward_fn = rewards.REWARDS[_REWARD.value]
  theta_init = np.asarray(_D.theta_init, np.float32)
  component_rewards = algo.component_rewards(reward_fn)
  run = _exact_run if _EXACT_GRADIENT.value else _particle_run
  histories, samples, thetas, initial_particles = run(theta_init, component_rewards)
  metrics = _metrics(histories, thetas, component_rewards, theta_init,
                     time.perf_counter() - start)
  weights = ", ".join(f"{w:.3f}" for w in metrics["final_weights"])
  print(f"Total time, {_STEPS.value} steps: {metrics['wall_time_s']:.3f}s | final exact E[r] "
        f"{metrics['final_exact_reward']:.4f} | weights [{weights}]", flush=True)
  if folder is None:
    return

  if _LOG_OPTION.value:
    io.save_histories(folder, {name: h[0] for name, h in histories.items()})
    if _NUM_SEEDS.value > 1:
      io.save_histories(folder, histories, "_seeds")
  io.save_npy(os.path.join(folder, "samples.npy"), samples[0])
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  from implicit_diffusion import figures  # pylint: disable=g-import-not-at-top  (preloaded)
  figures.save_summary(
      os.path.join(folder, "implicit_diffusion.png"), reward_fn, theta_init, thetas[0],
      histories, initial_particles, samples[0])
  print(f"Outputs written to {folder}", flush=True)


if __name__ == "__main__":
  cli.run(main)

"""``python -m reward_guidance.subspace``: the synthetic subspace study of Yuan et al. (2023).

For each seed: draws the problem (``reward_guidance.theory``), trains a conditional DDPM on the
pseudo-labelled points with each network of ``config.networks`` (ε-prediction, cosine schedule,
T = 200), samples ``config.num_samples`` points at every target a by the ancestral sampler, and
measures the true reward (and reward / a), the predicted reward θ̂ᵀx, the off-support deviation
‖(I − AAᵀ)x‖ and, for the subspace encoder, ‖VVᵀ − AAᵀ‖_F; the exact Gaussian conditional
("oracle") is measured beside them. Writes ``<file_path>/<expe_name>/``: config.json,
results.json (per seed) and summary.json (mean ± std over seeds), hist_<net>_seed<s>.npy,
subspace.png (reward, reward/target and off-support deviation against the target).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax

from common.diffusion import ddpm
from common.infra import cli
from common.infra import io
from common.networks import residual_mlp
from common.training import fitting
from reward_guidance import theory

_CONFIG = cli.define_config(cli.config_file("reward_guidance_subspace"))
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Seeds (one problem each).")
_RUN = cli.define_run_flags("reward_guidance_subspace", resume=False)

NETWORKS = ("subspace", "mlp")
KEYS = ("reward", "reward_ratio", "predicted_reward", "off_support", "off_support_ratio")


def make_apply(name: str, config, schedule):
  """(network or None, apply(params, x, t, y), init(key) -> params)."""
  x, t, y = jnp.zeros((1, config.dim)), jnp.zeros(()), jnp.zeros((1,))
  if name == "subspace":
    network = theory.SubspaceEps(config.dim, config.latent_dim, config.width)
    return network, theory.subspace_apply(network, schedule), lambda k: network.init(
        k, x, t, y, jnp.ones(()))
  network = residual_mlp.ResidualMLP(config.dim, config.width, 3, 64)
  return None, network.apply, lambda k: network.init(k, x, t, y)


def run_seed(seed: int, config, schedule) -> tuple[dict, dict]:
  problem = theory.make_problem(seed, config.dim, config.latent_dim, config.num_unlabeled,
                                config.num_labeled, config.label_noise, config.ridge,
                                config.pseudo_noise)
  slope = theory.oracle_slope(problem)
  rng = np.random.default_rng(seed + 1000)
  result = {"slope": slope, "oracle": {}, "ridge_error": float(np.linalg.norm(
      problem.theta_hat - problem.theta_star))}
  for a in config.targets:
    result["oracle"][a] = theory.measure(
        problem, theory.oracle_sample(rng, problem, a, config.num_oracle_samples), a)
  losses = {}
  data = (jnp.asarray(problem.x_unlabeled, jnp.float32),
          jnp.asarray(problem.pseudo_labels, jnp.float32))
  for name in config.networks:
    network, apply, init = make_apply(name, config, schedule)
    key_init, key_fit, key_sample = jax.random.split(jax.random.fold_in(jax.random.key(seed),
                                                                        NETWORKS.index(name)), 3)
    loss = lambda p, k, b, apply=apply: ddpm.eps_loss(apply, p, schedule, k, b[0], b[1])
    optimizer = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.train_steps))
    params, losses[name] = fitting.fit(key_fit, init(key_init), loss, optimizer, data,
                                       batch_size=config.batch_size,
                                       num_steps=config.train_steps, chunk_size=1000,
                                       label=f"{name} seed {seed} step")

    def sample(key, target, params=params, apply=apply):
      labels = jnp.full((config.num_samples,), target)
      eps_fn = lambda x, t: apply(params, x, t.astype(jnp.float32), labels)
      key_init, key_noise = jax.random.split(key)
      x_init = jax.random.normal(key_init, (config.num_samples, config.dim))
      return ddpm.ancestral_sample(key_noise, eps_fn, schedule, x_init)

    sample = jax.jit(sample)
    result[name] = {a: theory.measure(problem, np.asarray(sample(jax.random.fold_in(
        key_sample, i), jnp.float32(a))), a) for i, a in enumerate(config.targets)}
    if network is not None:
      result[f"{name}_angle"] = theory.subspace_angle(params, problem.basis)
  return result, losses


def summarise(results: list[dict], config) -> dict:
  summary = {"slope": [float(np.mean([r["slope"] for r in results])),
                       float(np.std([r["slope"] for r in results]))]}
  for name in ("oracle",) + tuple(config.networks):
    summary[name] = {}
    for a in config.targets:
      summary[name][str(a)] = {k: [float(np.mean([r[name][a][k] for r in results])),
                                   float(np.std([r[name][a][k] for r in results]))]
                               for k in KEYS}
    if f"{name}_angle" in results[0]:
      angles = [r[f"{name}_angle"] for r in results]
      summary[f"{name}_angle"] = [float(np.mean(angles)), float(np.std(angles))]
  return summary


def write_figure(path: str, summary: dict, config) -> str:
  from common.infra import plotting  # pylint: disable=g-import-not-at-top
  fig, axes = plotting.new_figure(3, panel_size=3.8)
  targets = np.asarray(config.targets)
  labels = {"oracle": "oracle (exact conditional)", "subspace": "subspace encoder",
            "mlp": "generic MLP"}
  panels = [("reward", "E f*(x)", "reward of the samples"),
            ("reward_ratio", "E f*(x) / a", "reward / target"),
            ("off_support", "E ‖(I − AAᵀ)x‖", "off-support deviation")]
  for ax, (key, ylabel, title) in zip(axes, panels):
    bounds = []
    for name in ("oracle",) + tuple(config.networks):
      stats = np.array([summary[name][str(a)][key] for a in config.targets])
      keep = np.isfinite(stats[:, 0])
      ax.errorbar(targets[keep], stats[keep, 0], stats[keep, 1], marker="o", ms=3, capsize=2,
                  label=labels[name])
      if name != "mlp":
        bounds += [np.min(stats[keep, 0] - stats[keep, 1]), np.max(stats[keep, 0] + stats[keep, 1])]
    # The axes follow the oracle and the subspace encoder; a diverging MLP runs off the top.
    low, high = min(bounds), max(bounds)
    ax.set_ylim(low - 0.1 * (high - low) - 1e-3, high + 0.1 * (high - low) + 1e-3)
    if key == "reward":
      ax.plot(targets, summary["slope"][0] * targets, "k:", lw=1, label="slope · a")
    ax.set(xlabel="target a", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  return plotting.save_figure(fig, path)


def main(argv):
  del argv
  config = _CONFIG.value
  try:
    seeds = [int(s) for s in _SEEDS.value]
  except ValueError as e:
    raise cli.FlagError("seeds", f"not a list of integers: {_SEEDS.value}") from e
  cli.check(len(seeds) > 0 and min(seeds) >= 0, "seeds", "must be non-negative integers")
  cli.check(all(n in NETWORKS for n in config.networks), "config.networks",
            f"must be among {NETWORKS}")
  cli.check_positive(config, ("dim", "latent_dim", "num_unlabeled", "num_labeled",
                              "num_diffusion_steps", "width", "train_steps", "batch_size",
                              "num_samples", "num_oracle_samples", "learning_rate"))
  cli.check_non_negative(config, ("label_noise",))
  cli.check(len(config.targets) > 0 and all(isinstance(a, (int, float)) for a in config.targets),
            "config.targets", "must be a non-empty tuple of numbers")
  cli.check(0 < config.max_beta < 1, "config.max_beta", "must be in (0, 1)")
  cli.check(config.latent_dim <= config.dim, "config.latent_dim", "must be at most config.dim")
  cli.check(config.pseudo_noise > 0 and config.ridge > 0, "config.pseudo_noise",
            "ν and λ must be positive")
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, dict(config.to_dict(), seeds=seeds))
  schedule = ddpm.cosine_schedule(config.num_diffusion_steps, max_beta=config.max_beta)
  results = []
  for seed in seeds:
    result, losses = run_seed(seed, config, schedule)
    results.append(result)
    io.save_histories(folder, losses, suffix=f"_seed{seed}")
    angle = result.get("subspace_angle", float("nan"))
    print(f"seed {seed}: slope {result['slope']:.4f} | subspace angle {angle:.4f} | "
          f"{time.perf_counter() - _START:.0f} s", flush=True)
  summary = summarise(results, config)
  summary["wall_time_s"] = time.perf_counter() - _START
  io.save_json(os.path.join(folder, "results.json"),
               [{k: ({str(a): m for a, m in v.items()} if isinstance(v, dict) else v)
                 for k, v in r.items()} for r in results])
  io.save_json(os.path.join(folder, "summary.json"), summary)
  write_figure(os.path.join(folder, "subspace.png"), summary, config)
  print(f"slope {summary['slope'][0]:.4f}; subspace angle "
        f"{summary.get('subspace_angle', [float('nan')])[0]:.4f}")
  print(f"{'a':>5} {'net':>9} " + " ".join(f"{k:>17}" for k in KEYS))
  for a in config.targets:
    for name in ("oracle",) + tuple(config.networks):
      stats = summary[name][str(a)]
      print(f"{a:5g} {name:>9} " + " ".join(f"{stats[k][0]:8.3f}±{stats[k][1]:<8.3f}"
                                               for k in KEYS))
  print(f"wall time {summary['wall_time_s']:.0f} s")


if __name__ == "__main__":
  cli.run(main)

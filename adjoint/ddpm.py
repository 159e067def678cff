"""The 1-D DDPM / DDIM of Nakkiran et al. (2024): ``python -m adjoint.ddpm``.

Trains f_θ(x, t) ≈ E[x_{t−Δt} | x_t] on the target N(0, τ), samples with DDPM (from the start
law of ``config.start``) and DDIM, and writes ``<file_path>/<expe_name>/``: config.json,
hist_{loss,mean,std}.npy, samples.npy (DDPM, shape (N, 1)), samples_ddim.npy, metrics.json and
ddpm.png (histograms against the exact density, and the learned f against f*).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from adjoint import nakkiran_ddpm
from common.infra import cli
from common.infra import io
from common.infra import plotting
from common.networks import mlp
from common.training import driver

_CONFIG = cli.define_config(cli.config_file("ddpm"))
_RUN = cli.define_run_flags("ddpm_gaussian", resume=False)


def validate(config) -> None:
  cli.check_positive(config, ("num_epochs", "steps_per_epoch", "batch_size", "chunk_size",
                              "num_monitor", "num_samples", "target_variance", "sigma_q",
                              "learning_rate", "hidden_sizes"))
  cli.check_non_negative(config, ("num_frequencies",))
  steps = 1.0 / config.dt if config.dt > 0 else 0.0
  cli.check(config.dt > 0 and abs(steps - round(steps)) < 1e-9, "config.dt",
            "must be 1/n for an integer n")
  cli.check(config.activation in mlp.ACTIVATIONS, "config.activation",
            f"must be one of {sorted(mlp.ACTIVATIONS)}")
  cli.check(config.start in nakkiran_ddpm.START_LAWS, "config.start",
            f"must be one of {nakkiran_ddpm.START_LAWS}")


def write_figure(path, samples, samples_ddim, setup, apply_fn, params):
  fig, (ax_hist, ax_f) = plotting.new_figure(2, panel_size=4.2)
  grid = np.linspace(-4.5, 4.5, 301)
  exact = np.exp(-0.5 * grid**2 / setup.target_variance) / np.sqrt(
      2 * np.pi * setup.target_variance)
  bins = np.linspace(-4.5, 4.5, 81)
  ax_hist.hist(samples[:, 0], bins=bins, density=True, alpha=0.5, label="DDPM")
  ax_hist.hist(samples_ddim[:, 0], bins=bins, density=True, histtype="step", label="DDIM")
  ax_hist.plot(grid, exact, "k", lw=1.5, label="exact N(0, τ)")
  ax_hist.set(title="samples against the exact density", xlabel="x")
  ax_hist.legend(fontsize=7)
  xs = jnp.linspace(-3.0, 3.0, 61, dtype=jnp.float32)[:, None]
  for t in (1.0, 0.5, 0.1):
    line = ax_f.plot(xs[:, 0], apply_fn(params, jnp.float32(t), xs)[:, 0], label=f"f_θ, t={t}")
    ax_f.plot(xs[:, 0], nakkiran_ddpm.optimal_denoiser(setup, xs, t)[:, 0], "--",
              color=line[0].get_color(), lw=1)
  ax_f.set(title="learned f_θ (solid) and f* (dashed)", xlabel="x")
  ax_f.legend(fontsize=7)
  return plotting.save_figure(fig, path)


def relative_denoiser_errors(setup, apply_fn, params) -> list[float]:
  """max_x |f_θ − f*| / max_x |f*| over x ∈ [−3, 3], at each t = Δt, 2Δt, …, 1."""
  xs = jnp.linspace(-3.0, 3.0, 61, dtype=jnp.float32)[:, None]
  errors = []
  for t in setup.dt * np.arange(1, setup.num_steps + 1):
    exact = nakkiran_ddpm.optimal_denoiser(setup, xs, t)
    learned = apply_fn(params, jnp.float32(t), xs)
    errors.append(float(jnp.max(jnp.abs(learned - exact))) / float(jnp.max(jnp.abs(exact))))
  return errors


def main(argv):
  del argv
  config = _CONFIG.value
  validate(config)
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, config.to_dict())

  setup = nakkiran_ddpm.DiffusionSetup(config.target_variance, config.sigma_q, config.dt)
  network = mlp.FourierTimeMLP(
      tuple(config.hidden_sizes), 1, config.num_frequencies, config.activation)
  schedule = optax.cosine_decay_schedule(
      config.learning_rate, config.num_epochs * config.steps_per_epoch)
  algorithm = nakkiran_ddpm.ddpm_training(
      network=network, setup=setup, optimizer=optax.adam(schedule),
      steps_per_epoch=config.steps_per_epoch, batch_size=config.batch_size,
      num_monitor=config.num_monitor, start=config.start)
  key_init, key_train, key_ddpm, key_ddim = jax.random.split(jax.random.key(config.seed), 4)
  state, histories = driver.train(
      algorithm.step, algorithm.init(key_init), key_train, num_steps=config.num_epochs,
      chunk_size=config.chunk_size, progress_fields=("loss",), label="epoch")

  samples = np.asarray(jax.jit(algorithm.sample, static_argnums=2)(
      key_ddpm, state.params, config.num_samples))
  sample = jax.jit(nakkiran_ddpm.sample, static_argnums=(1, 3, 4, 5, 6))
  samples_ddim = np.asarray(sample(key_ddim, network.apply, state.params, setup,
                                   config.num_samples, "exact", True))
  metrics = {"ddpm_mean": float(samples.mean()), "ddpm_std": float(samples.std()),
             "ddim_std": float(samples_ddim.std()),
             "max_relative_error_f": max(relative_denoiser_errors(setup, network.apply,
                                                                  state.params)),
             "wall_time_s": time.perf_counter() - _START}
  io.save_histories(folder, {"loss": histories["loss"], "mean": histories["sample_mean"],
                             "std": histories["sample_std"]})
  io.save_npy(os.path.join(folder, "samples.npy"), samples)
  io.save_npy(os.path.join(folder, "samples_ddim.npy"), samples_ddim)
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  png = write_figure(os.path.join(folder, "ddpm.png"), samples, samples_ddim, setup,
                     network.apply, state.params)
  print(" | ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
  print(f"wrote {png}; wall time {time.perf_counter() - _START:.1f} s from process start")


if __name__ == "__main__":
  cli.run(main)

"""DxMI fine-tuning of the 5-step digits sampler: ``python -m dxmi.train [--config.field=...]``.

Loads (or trains, once) the digits DDPM and the metric classifier from ``config.model_dir``,
starts from the FastDPM-VAR reduction of the DDPM and runs Algorithm 2 of Yoon et al. (2024)
(``dxmi.algorithm``) with the training driver (``common.training.driver``), scoring the sampler
by clfFD against the training digits every ``evaluate_every`` iterations and keeping the best
(``dxmi.selection``). Writes ``<file_path>/<expe_name>/``: config.json, checkpoints/ (at every
evaluation; ``--resume`` continues from the latest), hist_*.npy (per iteration; hist_eval_* per
evaluation), sampler.msgpack and energy.msgpack (best sampler, final energy), samples.npy
(num_eval digits of the best sampler), metrics.json (start and best: clfFD train/test, pixel FD,
class entropy, confidence, memorisation ratio; the relative clfFD improvement on the test
digits) and dxmi_digits.png.
"""

import os
import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import jax.numpy as jnp
import numpy as np

from common.digits import data as digits
from common.digits import metrics as digit_metrics
from common.digits import models as digit_models
from common.infra import cli
from common.infra import io
from common.training import checkpoint
from common.training import driver
from common.training import fitting
from dxmi import algorithm
from dxmi import digits_sampler
from dxmi import entry
from dxmi import figures
from dxmi import policy as policy_lib
from dxmi import selection

_CONFIG = cli.define_config(cli.config_file("dxmi"))
_RUN = cli.define_run_flags("dxmi_digits")
# Fields that may change when a run is resumed: a longer run continues a shorter one.
_RESUMABLE = ("iterations", "chunk_size")


def validate(config) -> None:
  entry.check_algorithm_fields(config)
  cli.check_positive(config, ("ddpm_steps", "evaluate_every"))
  cli.check(config.num_eval >= 2, "config.num_eval", "needs at least 2 samples for a covariance")
  cli.check(config.value_guidance >= 0, "config.value_guidance", "must be non-negative")
  cli.check_folder(config.model_dir, "config.model_dir")
  if _RUN.resume.value:
    checkpoint.check_resumable(_RUN.folder(), config.to_dict(), _RESUMABLE)


def evaluation_logger(best: selection.BestSampler, histories: checkpoint.History):
  """``on_block(done, state)``: offers the sampler to ``best``, logs (iteration, clfFD train,
  clfFD test, class entropy) to ``histories["eval"]`` (checkpointed with them) and prints."""

  def on_block(done: int, state: algorithm.DxMIState) -> None:
    scores = best.offer(done, state.sampler_params)
    histories["eval"] = np.concatenate([histories["eval"], np.asarray(
        [[done, scores["clf_fd_train"], scores["clf_fd_test"], scores["class_entropy"]]],
        np.float32)])
    print(f"iteration {done}: clfFD train {scores['clf_fd_train']:.3f}, test "
          f"{scores['clf_fd_test']:.3f} (best {best.score:.3f} at {best.iteration})", flush=True)

  return on_block


def summary(config, few_step: policy_lib.Policy, best: selection.BestSampler,
            infos: algorithm.DxMIInfo) -> dict:
  """metrics.json: the start's and the best sampler's metrics, the energies and values at the
  end of training, the best σ_t."""
  return {"start": best.start_metrics, "best": best.metrics, "best_iteration": best.iteration,
          "clf_fd_test_relative_improvement":
              1.0 - best.metrics["clf_fd_test"] / best.start_metrics["clf_fd_test"],
          "final_energy_data": float(infos.energy_data[-100:].mean()),
          "final_energy_sample": float(infos.energy_sample[-100:].mean()),
          "final_mean_value_along_trajectory": infos.values[-100:].mean(0),
          "best_std": np.asarray(policy_lib.step_std(few_step, best.params,
                                                     jnp.arange(config.num_steps)))}


def write_outputs(folder: str, best: selection.BestSampler, state: algorithm.DxMIState,
                  histories: checkpoint.History, metrics: dict) -> str:
  """Histories, the best sampler and its digits, the final energy, metrics.json and the figure;
  returns the figure's path."""
  io.save_histories(folder, histories)
  io.save_params(os.path.join(folder, "sampler.msgpack"), best.params)
  io.save_params(os.path.join(folder, "energy.msgpack"), state.value_params)
  io.save_npy(os.path.join(folder, "samples.npy"), best.samples)
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  return figures.digits_summary(os.path.join(folder, "dxmi_digits.png"), best.start_samples,
                                best.samples, entry.infos(histories), histories["eval"])


def main(argv) -> None:
  del argv
  config = _CONFIG.value
  folder = entry.start(config, _RUN, validate)
  data = digits.load()
  evaluator = digit_metrics.Evaluator(digit_models.train_or_load_classifier(config.model_dir),
                                      data)
  net_params = digit_models.train_or_load_ddpm(config.model_dir, config.ddpm_steps)
  few_step, reduced = digits_sampler.policy(config.num_steps, config.spacing)
  energy_net, value_fn = digits_sampler.energy_network(tuple(config.value_hidden))
  keys = jax.random.split(jax.random.key(config.seed), 4)
  dxmi = entry.make_algorithm(config, few_step, value_fn, running_cost_in_value=False)
  start_params = policy_lib.init_sampler_params(few_step, net_params, reduced.std)
  state = dxmi.init(keys[0], start_params,
                    energy_net.init(keys[1], None, jnp.zeros((1, digits.DIM))))

  # Every evaluation draws with the same noise (keys[2]).
  draw = digits_sampler.sampler(few_step, config.num_eval)
  best = selection.BestSampler(lambda params: draw(params, keys[2]), evaluator, "clf_fd_train",
                               start_params)
  print(f"start: clfFD train {best.score:.3f}, test {best.metrics['clf_fd_test']:.3f}", flush=True)
  manager = checkpoint.manager(folder, _RUN.resume.value)
  done, saved, histories = driver.restore(manager, best.to_save(state), "iteration")
  state = best.restore(saved)
  histories.setdefault("eval", np.zeros((0, 4), np.float32))
  state, histories = driver.train(
      dxmi.step, state, keys[3], num_steps=config.iterations, chunk_size=config.chunk_size,
      checkpoint_every=config.evaluate_every, manager=manager, done=done, histories=histories,
      batch_fn=fitting.row_sampler((data.x_train,), config.batch_size),
      progress_fields=entry.PROGRESS_FIELDS, label="iteration",
      on_block=evaluation_logger(best, histories), to_save=best.to_save)
  manager.close()

  metrics = summary(config, few_step, best, entry.infos(histories))
  if config.value_guidance > 0:
    guided = digits_sampler.sampler(few_step, config.num_eval, lambda params: (
        policy_lib.value_guidance(few_step, value_fn, state.value_params, params,
                                  config.value_guidance)))
    metrics["best_value_guided"] = evaluator(np.asarray(guided(best.params, keys[2])))
  metrics["wall_time_s"] = time.perf_counter() - _START
  png = write_outputs(folder, best, state, histories, metrics)
  print(f"clfFD test: start {best.start_metrics['clf_fd_test']:.3f} -> best "
        f"{best.metrics['clf_fd_test']:.3f} "
        f"({100 * metrics['clf_fd_test_relative_improvement']:.1f}% lower; iteration "
        f"{best.iteration}) | class entropy {best.metrics['class_entropy']:.3f} | "
        f"memorisation {best.metrics['memorisation_ratio']:.3f} | wall time "
        f"{metrics['wall_time_s']:.1f} s")
  print(f"wrote {png}")


if __name__ == "__main__":
  cli.run(main)

"""DxMI fine-tuning of the 5-step digits sampler: ``python -m dxmi.train [--config.field=...]``.

Loads (or trains, once) the digits DDPM and the metric classifier from ``config.model_dir``,
starts from the FastDPM-VAR reduction of the DDPM and runs Algorithm 2 of Yoon et al. (2024)
(``dxmi.algorithm``), scoring the sampler by clfFD against the training digits every
``evaluate_every`` iterations and keeping the best. Writes ``<file_path>/<expe_name>/``:
config.json, checkpoints/ (at every evaluation; ``--resume`` continues from the latest),
hist_*.npy (per iteration; hist_eval_* per evaluation), sampler.msgpack and energy.msgpack
(best sampler, final energy), samples.npy (num_eval digits of the best sampler), metrics.json
(start and best: clfFD train/test, pixel FD, class entropy, confidence, memorisation ratio;
the relative clfFD improvement on the test digits) and dxmi_digits.png.
"""

import os
import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from common import checkpoint
from common import cli
from common import digit_metrics
from common import digit_models
from common import digits
from common import io
from dxmi import algorithm
from dxmi import digits_sampler
from dxmi import entry
from dxmi import figures
from dxmi import training

_FLAGS = entry.define_flags("dxmi", "dxmi_digits")
_RESUME = flags.DEFINE_bool("resume", False,
                            "Continue from the latest checkpoint in <folder>/checkpoints.")
# Fields that may change when a run is resumed: a longer run continues a shorter one.
_RESUMABLE = ("iterations", "chunk_size")


def validate(config) -> None:
  entry.check_algorithm_fields(config)
  cli.check_positive(config, ("ddpm_steps", "evaluate_every"))
  cli.check(config.num_eval >= 2, "config.num_eval", "needs at least 2 samples for a covariance")
  cli.check(config.value_guidance >= 0, "config.value_guidance", "must be non-negative")
  cli.check_folder(config.model_dir, "config.model_dir")
  if _RESUME.value:
    checkpoint.check_resumable(os.path.join(_FLAGS.file_path.value, _FLAGS.expe_name.value),
                               config.to_dict(), _RESUMABLE)


def main(argv) -> None:
  del argv
  config, folder = entry.start(_FLAGS, validate)
  data = digits.load()
  evaluator = digit_metrics.Evaluator(digit_models.train_or_load_classifier(config.model_dir),
                                      data)
  net_params = digit_models.train_or_load_ddpm(config.model_dir, config.ddpm_steps)

  few_step, reduced = digits_sampler.policy(config.num_steps, config.spacing)
  energy_net, value_fn = digits_sampler.energy_network(tuple(config.value_hidden))
  keys = jax.random.split(jax.random.key(config.seed), 4)
  dxmi = algorithm.dxmi(few_step, value_fn, entry.algorithm_config(config, False))
  start_params = algorithm.init_sampler_params(few_step, net_params, reduced.std)
  state = dxmi.init(keys[0], start_params,
                    energy_net.init(keys[1], None, jnp.zeros((1, digits.DIM))))

  # Every evaluation uses the same noise, so successive scores differ by the sampler only.
  plain_draw = digits_sampler.sampler(few_step, config.num_eval)
  start_samples = np.asarray(plain_draw(start_params, keys[2]))
  start_metrics = evaluator(start_samples)
  best = {"score": start_metrics["clf_fd_train"], "iteration": 0, "params": start_params,
          "samples": start_samples, "metrics": start_metrics}
  print(f"start: clfFD train {start_metrics['clf_fd_train']:.3f}, "
        f"test {start_metrics['clf_fd_test']:.3f}", flush=True)

  # A checkpoint holds the training's carry and the best sampler so far; the best's samples and
  # scores are recomputed from its parameters (same noise, keys[2]) on resumption.
  def to_save(key, state):
    return {"key": key, "state": state, "best_params": best["params"],
            "best_score": np.asarray(best["score"], np.float64),
            "best_iteration": np.asarray(best["iteration"], np.int64)}

  manager = checkpoint.manager(folder, _RESUME.value)
  key, done, histories = keys[3], 0, {"eval": np.zeros((0, 4), np.float32)}
  restored = checkpoint.restore_latest(manager, to_save(key, state))
  if restored is not None:
    done, saved, histories = restored
    key, state = saved["key"], saved["state"]
    if int(saved["best_iteration"]) > 0:
      samples = np.asarray(plain_draw(saved["best_params"], keys[2]))
      best.update(score=float(saved["best_score"]), iteration=int(saved["best_iteration"]),
                  params=saved["best_params"], samples=samples, metrics=evaluator(samples))
    print(f"resumed from iteration {done} (best {best['score']:.3f} at {best['iteration']})",
          flush=True)

  def on_evaluate(done, current):
    samples = np.asarray(plain_draw(current.sampler_params, keys[2]))
    scores = evaluator(samples)
    histories["eval"] = np.concatenate([histories["eval"], np.asarray(
        [[done, scores["clf_fd_train"], scores["clf_fd_test"], scores["class_entropy"]]],
        np.float32)])
    if scores["clf_fd_train"] < best["score"]:
      best.update(score=scores["clf_fd_train"], iteration=done, samples=samples,
                  params=jax.device_get(current.sampler_params), metrics=scores)
    print(f"iteration {done}: clfFD train {scores['clf_fd_train']:.3f}, test "
          f"{scores['clf_fd_test']:.3f} (best {best['score']:.3f} at {best['iteration']})",
          flush=True)

  state, infos = training.run(
      key, dxmi, state, digits_sampler.data_batches(data.x_train, config.batch_size),
      config.iterations, config.chunk_size, evaluate_every=config.evaluate_every,
      on_evaluate=on_evaluate, manager=manager, done=done, histories=histories, to_save=to_save)
  manager.close()
  evaluations = histories["eval"]

  metrics = {"start": start_metrics, "best": best["metrics"], "best_iteration": best["iteration"],
             "clf_fd_test_relative_improvement":
                 1.0 - best["metrics"]["clf_fd_test"] / start_metrics["clf_fd_test"],
             "final_energy_data": float(infos.energy_data[-100:].mean()),
             "final_energy_sample": float(infos.energy_sample[-100:].mean()),
             "final_mean_value_along_trajectory": infos.values[-100:].mean(0),
             "best_std": np.asarray(algorithm.step_std(few_step, best["params"],
                                                       jnp.arange(config.num_steps)))}
  if config.value_guidance > 0:
    guided = digits_sampler.sampler(few_step, config.num_eval, lambda params: (
        algorithm.value_guidance(few_step, value_fn, state.value_params, params,
                                 config.value_guidance)))
    metrics["best_value_guided"] = evaluator(np.asarray(guided(best["params"], keys[2])))
  metrics["wall_time_s"] = time.perf_counter() - _START

  io.save_histories(folder, {
      "energy_data": infos.energy_data, "energy_sample": infos.energy_sample,
      "td_loss": infos.td_loss, "policy_loss": infos.policy_loss, "values": infos.values,
      "std": infos.std, "eval": evaluations})
  io.save_params(os.path.join(folder, "sampler.msgpack"), best["params"])
  io.save_params(os.path.join(folder, "energy.msgpack"), state.value_params)
  io.save_npy(os.path.join(folder, "samples.npy"), best["samples"])
  io.save_json(os.path.join(folder, "metrics.json"), metrics)
  png = figures.digits_summary(os.path.join(folder, "dxmi_digits.png"), start_samples,
                               best["samples"], infos, evaluations)
  print(f"clfFD test: start {start_metrics['clf_fd_test']:.3f} -> best "
        f"{best['metrics']['clf_fd_test']:.3f} "
        f"({100 * metrics['clf_fd_test_relative_improvement']:.1f}% lower; iteration "
        f"{best['iteration']}) | class entropy {best['metrics']['class_entropy']:.3f} | "
        f"memorisation {best['metrics']['memorisation_ratio']:.3f} | wall time "
        f"{metrics['wall_time_s']:.1f} s")
  print(f"wrote {png}")


if __name__ == "__main__":
  cli.run(main)

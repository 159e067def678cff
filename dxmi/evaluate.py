"""``python -m dxmi.evaluate``: metrics and sample grids of the digits samplers side by side.

Samplers: the DDPM with its 1000 ancestral steps, its FastDPM reductions to ``--num_steps``
(VAR quadratic and linear, STEP quadratic), and, with ``--run_dir``, the DxMI sampler saved by
``dxmi.train`` (``sampler.msgpack``) with and without value guidance (``--value_guidance``).
Writes ``<file_path>/<expe_name>/``: config.json, metrics.json and metrics.csv (one row per
sampler: clfFD against the training and test digits, pixel FD, class entropy, confidence,
memorisation ratio, off-manifold residual), samples_<sampler>.npy and grid_<sampler>.png.
"""

import csv
import os

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import metrics as digit_metrics
from common.digits import models as digit_models
from common.infra import cli
from common.infra import io
from common.infra import plotting
from dxmi import digits_sampler
from dxmi import policy as policy_lib

_MODEL_DIR = flags.DEFINE_string("model_dir", digit_models.DEFAULT_MODEL_DIR,
                                 "Cache of the trained DDPM and classifier.")
_DDPM_STEPS = flags.DEFINE_integer("ddpm_steps", digit_models.DDPM_STEPS,
                                   "Training steps of the cached DDPM to use.")
_RUN_DIR = flags.DEFINE_string("run_dir", None, "A dxmi.train output folder (optional).")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 5, "Steps of the reduced samplers.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", digits.NUM_TRAIN, "Digits per sampler.")
_VALUE_GUIDANCE = flags.DEFINE_float("value_guidance", 0.0,
                                     "λ of value-guided DxMI sampling (0: not evaluated).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the samplers' noise.")
_RUN_FLAGS = cli.define_run_flags("dxmi_evaluate", resume=False)

_REDUCTIONS = {"var_quadratic": ("var", "quadratic"), "var_linear": ("var", "linear"),
               "step_quadratic": ("step", "quadratic")}


def _validate() -> None:
  cli.check(_NUM_STEPS.value >= 2, "num_steps", "must be at least 2")
  cli.check(_NUM_SAMPLES.value >= 2, "num_samples", "must be at least 2")
  cli.check(_DDPM_STEPS.value > 0, "ddpm_steps", "must be positive")
  cli.check(_VALUE_GUIDANCE.value >= 0, "value_guidance", "must be non-negative")
  cli.check(_VALUE_GUIDANCE.value == 0 or _RUN_DIR.value is not None, "value_guidance",
            "needs --run_dir (the guided sampler is the run's)")
  cli.check_folder(_MODEL_DIR.value, "model_dir")
  if _RUN_DIR.value is not None:
    for name in ("sampler.msgpack", "energy.msgpack", "config.json"):
      path = os.path.join(_RUN_DIR.value, name)
      cli.check(os.path.isfile(path), "run_dir", f"{path} does not exist (run dxmi.train first)")
    run_config = cli.load_json(os.path.join(_RUN_DIR.value, "config.json"), "run_dir",
                               ("num_steps", "spacing", "value_hidden", "ddpm_steps",
                                "model_dir"))
    cli.check(run_config["num_steps"] == _NUM_STEPS.value, "num_steps",
              f"the run in {_RUN_DIR.value} has {run_config['num_steps']} steps")
    # The baselines must come from the DDPM the run was fine-tuned from.
    cli.check(run_config["ddpm_steps"] == _DDPM_STEPS.value, "ddpm_steps",
              f"the run in {_RUN_DIR.value} started from the DDPM of "
              f"{run_config['ddpm_steps']} steps")
    cli.check(os.path.realpath(run_config["model_dir"]) == os.path.realpath(_MODEL_DIR.value),
              "model_dir", f"the run in {_RUN_DIR.value} used the models in "
              f"{run_config['model_dir']}")
    for name in ("sampler.msgpack", "energy.msgpack"):
      cli.check_params_file(os.path.join(_RUN_DIR.value, name), "run_dir")


def _dxmi_samples(net_params, key_init: jax.Array, key_noise: jax.Array, num: int, steps: int
                  ) -> dict[str, np.ndarray]:
  """The DxMI run's sampler and, with ``--value_guidance``, its value-guided version."""
  run_config = cli.load_json(os.path.join(_RUN_DIR.value, "config.json"), "run_dir")
  few_step, reduced = digits_sampler.policy(steps, run_config["spacing"])
  params = io.load_params(os.path.join(_RUN_DIR.value, "sampler.msgpack"),
                          policy_lib.init_sampler_params(few_step, net_params, reduced.std))
  samples = {f"dxmi_{steps}": np.asarray(
      digits_sampler.sampler(few_step, num)(params, key_noise))}
  if _VALUE_GUIDANCE.value > 0:
    energy_net, value_fn = digits_sampler.energy_network(tuple(run_config["value_hidden"]))
    energy = io.load_params(os.path.join(_RUN_DIR.value, "energy.msgpack"),
                            energy_net.init(key_init, None, jnp.zeros((1, digits.DIM))))
    guided = digits_sampler.sampler(few_step, num, lambda p: policy_lib.value_guidance(
        few_step, value_fn, energy, p, _VALUE_GUIDANCE.value))
    samples[f"dxmi_{steps}_guided"] = np.asarray(guided(params, key_noise))
  return samples


def _samples(net_params, num: int, steps: int) -> dict[str, np.ndarray]:
  """Every sampler's ``num`` digits, all from the same noise."""
  key_init, key_noise = jax.random.split(jax.random.key(_SEED.value))
  samples = {"ddpm_1000": np.asarray(jax.jit(lambda k, x: ddpm.ancestral_sample(
      k, digit_models.eps_fn(net_params), digit_models.ddpm_schedule(), x))(
          key_noise, jax.random.normal(key_init, (num, digits.DIM))))}
  for name, (reduction, spacing) in _REDUCTIONS.items():
    few_step, reduced = digits_sampler.policy(steps, spacing, reduction)
    params = policy_lib.init_sampler_params(few_step, net_params, reduced.std)
    samples[f"{name}_{steps}"] = np.asarray(
        digits_sampler.sampler(few_step, num)(params, key_noise))
  if _RUN_DIR.value is not None:
    samples.update(_dxmi_samples(net_params, key_init, key_noise, num, steps))
  return samples


def _write_outputs(folder: str, samples: dict[str, np.ndarray], rows: dict[str, dict]) -> None:
  """samples_<sampler>.npy, grid_<sampler>.png, metrics.json and metrics.csv."""
  for name, x in samples.items():
    io.save_npy(os.path.join(folder, f"samples_{name}.npy"), x)
    fig, (ax,) = plotting.new_figure(1, panel_size=5.0)
    digits.plot_grid(ax, x[:100], 10)
    ax.set(title=name)
    plotting.save_figure(fig, os.path.join(folder, f"grid_{name}.png"))
  io.save_json(os.path.join(folder, "metrics.json"), rows)
  columns = list(next(iter(rows.values())))
  with io.atomic_path(os.path.join(folder, "metrics.csv")) as tmp, open(tmp, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["sampler", *columns])
    for name, row in rows.items():
      writer.writerow([name, *(f"{row[c]:.6g}" for c in columns)])


def main(argv) -> None:
  del argv
  _validate()
  folder = cli.make_output_dir(_RUN_FLAGS.file_path.value, _RUN_FLAGS.expe_name.value)
  cli.write_config(folder, cli.flag_values(
      ["model_dir", "ddpm_steps", "run_dir", "num_steps", "num_samples", "value_guidance",
       "seed"]))
  data = digits.load()
  evaluator = digit_metrics.Evaluator(digit_models.train_or_load_classifier(_MODEL_DIR.value),
                                      data)
  net_params = digit_models.train_or_load_ddpm(_MODEL_DIR.value, _DDPM_STEPS.value)
  samples = _samples(net_params, _NUM_SAMPLES.value, _NUM_STEPS.value)
  rows = {name: evaluator(x) for name, x in samples.items()}
  _write_outputs(folder, samples, rows)
  width = max(len(n) for n in rows)
  print(f"{'sampler':{width}}  clfFD-train  clfFD-test  entropy  confidence  memorisation")
  for name, row in rows.items():
    print(f"{name:{width}}  {row['clf_fd_train']:11.3f}  {row['clf_fd_test']:10.3f}  "
          f"{row['class_entropy']:7.3f}  {row['confidence']:10.3f}  "
          f"{row['memorisation_ratio']:12.3f}")
  print(f"wrote {folder}")


if __name__ == "__main__":
  cli.run(main)

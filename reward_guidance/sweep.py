"""``python -m reward_guidance.sweep``: targets × guidance strengths × seeds, table and figure.

Targets are in data-std units above the dataset's mean reward (``--targets=0,1,2,4``); each
(target, G, seed) draws ``--num_images`` guided digits with one compiled sampler (target and G are
traced). G = 0 is run once per seed (the target does not enter). Writes
``<file_path>/<expe_name>/``: config.json, results.csv (one line per run), summary.json (mean and
std over seeds per setting), sweep.png (true and predicted reward, clfFD, confidence and
off-manifold residual against the target, one line per G, the G = 0 level dashed) and one
grid_<target>_<G>.png per setting, grid_unguided.png for G = 0 (seed 0).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import collections
import os

from absl import flags
import jax
import numpy as np

from common.infra import cli
from common.infra import io
from reward_guidance import pipeline as pipeline_lib

_PREDICTOR_DIR = flags.DEFINE_string("predictor_dir", "runs/reward_guidance_predictor",
                                     "Output folder of reward_guidance.train.")
_TARGETS = flags.DEFINE_list("targets", ["0", "1", "2", "4", "8"],
                             "Targets in data-std units above the dataset mean.")
_GUIDANCES = flags.DEFINE_list("guidances", ["0", "8"], "Guidance strengths G.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Sampling seeds.")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 300, "Images per run.")
_BATCH_MEAN = flags.DEFINE_bool("batch_mean", False, "G divided by the batch size.")
_RUN = cli.define_run_flags("reward_guidance_sweep", resume=False)

SUMMARY_KEYS = ["true_reward_in_std", "predicted_reward_in_std", "gap_in_std", "confidence",
                "clf_fd_test", "off_manifold_residual", "class_entropy"]


def parse(values: list[str], flag: str, kind=float) -> list:
  try:
    parsed = [kind(v) for v in values]
  except ValueError as e:
    raise cli.FlagError(flag, f"not a list of numbers: {values}") from e
  cli.check(len(parsed) > 0 and all(np.isfinite(parsed)), flag, "must be finite numbers")
  return parsed


def write_figure(path, summary, targets, guidances):
  from common.infra import plotting  # pylint: disable=g-import-not-at-top
  fig, axes = plotting.new_figure(4, panel_size=3.6)
  panels = [("true_reward_in_std", "reward (data-std units)", "true (solid), predicted (dashed)"),
            ("clf_fd_test", "clfFD vs test", "quality: clfFD"),
            ("confidence", "mean max-softmax", "quality: classifier confidence"),
            ("off_manifold_residual", "‖(I − UUᵀ)(x − x̄)‖", "off-manifold residual")]
  base = summary[(None, 0.0)]
  for ax, (key, ylabel, title) in zip(axes, panels):
    for g in guidances:
      if g == 0:
        continue
      mean = np.array([summary[(a, g)][key][0] for a in targets])
      std = np.array([summary[(a, g)][key][1] for a in targets])
      line = ax.errorbar(targets, mean, std, marker="o", ms=3, capsize=2, label=f"G = {g:g}")
      if key == "true_reward_in_std":
        pred = np.array([summary[(a, g)]["predicted_reward_in_std"][0] for a in targets])
        ax.plot(targets, pred, "--", color=line[0].get_color())
    ax.axhline(base[key][0], color="k", ls=":", lw=1, label="G = 0")
    if key == "true_reward_in_std":
      ax.plot(targets, targets, color="grey", lw=0.8, label="y = target")
    ax.set(xlabel="target (data-std units above the mean)", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  return plotting.save_figure(fig, path)


def main(argv):
  del argv
  targets = parse(_TARGETS.value, "targets")
  guidances = parse(_GUIDANCES.value, "guidances")
  seeds = parse(_SEEDS.value, "seeds", int)
  cli.check(min(guidances) >= 0, "guidances", "must be non-negative")
  cli.check(0.0 in guidances, "guidances", "must include 0 (the unguided reference)")
  cli.check(_NUM_IMAGES.value > 1, "num_images", "must be at least 2")
  cli.check_batch_size(_NUM_IMAGES.value, "num_images")
  pipeline_lib.check_predictor_dir(_PREDICTOR_DIR.value, "predictor_dir")
  folder = cli.make_output_dir(_RUN.file_path.value, _RUN.expe_name.value)
  cli.write_config(folder, cli.flag_values(
      ["predictor_dir", "targets", "guidances", "seeds", "num_images", "batch_mean"]))
  pipeline = pipeline_lib.load(_PREDICTOR_DIR.value, _BATCH_MEAN.value)
  settings = [(None, 0.0)] + [(a, g) for g in guidances if g > 0 for a in targets]
  progress = cli.Progress(len(settings) * len(seeds), "run")
  rows, runs = [], collections.defaultdict(list)
  for a, g in settings:
    target = pipeline.reward_mean + (0.0 if a is None else a) * pipeline.reward_std
    for seed in seeds:
      samples = np.asarray(pipeline.sample(jax.random.key(seed), np.float32(target),
                                           np.float32(g), _NUM_IMAGES.value))
      metrics, true, predicted = pipeline_lib.score(pipeline, samples)
      metrics = dict(metrics, target=target, guidance=g, seed=seed)
      rows.append(metrics)
      runs[(a, g)].append(metrics)
      if seed == seeds[0]:
        name = "unguided" if a is None else f"{a:g}_{g:g}"
        pipeline_lib.save_grid(os.path.join(folder, f"grid_{name}.png"), samples, true,
                               predicted, f"target {'—' if a is None else f'{a:g} std'}, G = {g:g}")
      progress(len(rows), true_std=metrics["true_reward_in_std"], fd=metrics["clf_fd_test"])
  keys = pipeline_lib.CSV_KEYS + ["predicted_reward_in_std", "gap_in_std", "class_entropy"]
  with io.atomic_path(os.path.join(folder, "results.csv")) as tmp, open(tmp, "w") as f:
    f.write(",".join(keys) + "\n")
    f.writelines(pipeline_lib.csv_line(row, keys) + "\n" for row in rows)
  summary = {setting: {key: (float(np.mean([m[key] for m in ms])),
                             float(np.std([m[key] for m in ms]))) for key in SUMMARY_KEYS}
             for setting, ms in runs.items()}
  io.save_json(os.path.join(folder, "summary.json"), {
      "unguided" if a is None else f"target={a:g},G={g:g}": stats
      for (a, g), stats in summary.items()} | {"wall_time_s": time.perf_counter() - _START})
  write_figure(os.path.join(folder, "sweep.png"), summary, targets, guidances)
  print(f"{'setting':>16} " + " ".join(f"{k[:14]:>15}" for k in SUMMARY_KEYS))
  for (a, g), stats in summary.items():
    name = "G=0" if a is None else f"a={a:g},G={g:g}"
    print(f"{name:>16} " + " ".join(f"{stats[k][0]:7.3f}±{stats[k][1]:<6.3f}"
                                    for k in SUMMARY_KEYS))
  print(f"wall time {time.perf_counter() - _START:.1f} s from process start")


if __name__ == "__main__":
  cli.run(main)

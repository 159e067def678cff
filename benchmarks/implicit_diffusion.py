"""Wall time of Implicit Diffusion §5.1 on this machine, against the targets of the foundation.

    python benchmarks/implicit_diffusion.py [--repeats=3]

Prints one Markdown table: compile and run phases of the default 5000-step run (one seed, and
five seeds with vmap), the same computation dispatched one jitted step at a time from Python (as
the published code does), and ``python -m implicit_diffusion.main`` from process start to exit
with an empty and with a warm compilation cache. Times are medians of ``--repeats`` (this VM's
timings vary by ±30% from run to run). Ratios are measured / target (< 1 meets it).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import implicit_diffusion as default_config  # pylint: disable=g-import-not-at-top
from implicit_diffusion import algorithm as algo
from implicit_diffusion import reward as rewards

_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions (the median is reported).")
RUN_TARGET_S = 2.0
PROCESS_TARGET_S = 6.0


def _median_time(fn, repeats):
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _scanned(algorithm, draw, num_seeds, steps, chunk):
  """(compile seconds, run seconds) of the chunked scan used by ``implicit_diffusion.main``."""
  init, runner = algo.make_runner(algorithm, num_seeds, draw)
  carry = init(jnp.arange(num_seeds))
  start = time.perf_counter()
  compiled = runner.lower(carry, chunk).compile()
  compile_s = time.perf_counter() - start

  def run():
    c = carry
    for _ in range(steps // chunk):
      c, out = compiled(c)
      jax.device_get(out)

  return compile_s, _median_time(run, _REPEATS.value)


def _dispatched(algorithm, steps):
  """Run seconds of one jitted step per Python iteration, logging as the published code does.

  Each step's outputs stay on the device in a Python list (no per-step host sync), as in the
  published ``optim_loop``; the time includes waiting for the last step.
  """
  step = jax.jit(algo.chain_step(algorithm))
  carry = algo.initial_carry(algorithm, jax.random.key(0))
  jax.block_until_ready(step(carry))

  def run():
    c, log = carry, []
    for _ in range(steps):
      c, info = step(c)
      log.append(info)
    jax.block_until_ready(log)

  return _median_time(run, _REPEATS.value)


def _process(cache_dir):
  with tempfile.TemporaryDirectory() as out:
    env = dict(os.environ, DIFFSAMPLERS_XLA_CACHE=cache_dir)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "implicit_diffusion.main", f"--file_path={out}",
                    "--expe_name=bench"], env=env, check=True, capture_output=True,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return time.perf_counter() - start


def main(argv):
  del argv
  config = default_config.get_config()
  component_rewards = algo.component_rewards(rewards.hard_reward)
  hyperparameters = dict(num_particles=config.bs, num_reference=config.bs_ref,
                         theta_init=np.asarray(config.theta_init, np.float32),
                         reference_std=config.ref_std)
  algorithm = algo.implicit_diffusion(
      reward_fn=rewards.hard_reward, component_rewards=component_rewards,
      step_size=config.gamma, learning_rate=config.eta, kl_weight=config.lamb_kl,
      **hyperparameters)
  draw = algo.single_loop_draw(**hyperparameters)
  steps, chunk = config.steps, config.print_every
  rows = []
  compile_1, run_1 = _scanned(algorithm, draw, 1, steps, chunk)
  rows.append(("scan, 1 seed: compile", compile_1, None))
  rows.append(("scan, 1 seed: run 5000 steps", run_1, RUN_TARGET_S))
  compile_5, run_5 = _scanned(algorithm, draw, 5, steps, chunk)
  rows.append(("scan, 5 seeds (vmap): compile", compile_5, None))
  rows.append(("scan, 5 seeds (vmap): run 5000 steps", run_5, None))
  dispatched = _dispatched(algorithm, steps)
  rows.append(("per-step dispatch (published style): run 5000 steps", dispatched, None))
  cold, warm = [], []
  for _ in range(_REPEATS.value):
    with tempfile.TemporaryDirectory() as cache:
      cold.append(_process(cache))
      warm.append(_process(cache))
  rows.append(("process start to exit, empty cache", statistics.median(cold), PROCESS_TARGET_S))
  rows.append(("process start to exit, warm cache", statistics.median(warm), PROCESS_TARGET_S))

  print(f"\njax {jax.__version__}, backend {jax.default_backend()}, {os.cpu_count()} CPUs, "
        f"median of {_REPEATS.value} (compile phases: one each)\n")
  print("| measurement | seconds | target | ratio |")
  print("|---|---|---|---|")
  for name, seconds, target in rows:
    ratio = f"{seconds / target:.2f}" if target else ""
    print(f"| {name} | {seconds:.3f} | {f'< {target:g} s' if target else ''} | {ratio} |")
  print(f"\nspeed-up of the scan over per-step dispatch: {dispatched / run_1:.1f}x; "
        f"5 seeds cost {run_5 / run_1:.2f}x one seed")
  print("process times, empty cache: " + ", ".join(f"{t:.2f}" for t in cold)
        + "; warm: " + ", ".join(f"{t:.2f}" for t in warm))


if __name__ == "__main__":
  app.run(main)

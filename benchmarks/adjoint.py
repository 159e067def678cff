"""Throughput of Adjoint Sampling on the GMM with the default config: epochs/s and GFLOP/s.

    python benchmarks/adjoint.py [--epochs=50] [--single_device]

One epoch = 1000 paths × 124 Euler–Maruyama steps of the control network plus 10 Adam steps on
batches of 256. The FLOP count is that of the network's matrix products (2·in·out per sample
and layer; backward = 2 × forward), the rest (activations, noise) is not counted.
"""

import os
import sys
import time

# This script is named like the package it measures: drop its own folder from the import path so
# that ``import adjoint`` finds the package (installed with ``pip install -e .``).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import optax

from adjoint import adjoint_sampling
from adjoint import schedules
from adjoint import targets
from common.infra import parallel
from common.training import driver
from configs import adjoint as adjoint_config

_EPOCHS = flags.DEFINE_integer("epochs", 50, "Epochs timed after compilation.")
_SINGLE = flags.DEFINE_bool("single_device", False, "Do not split the CPU into one device per core.")


def network_flops(sizes, dim, num_frequencies, with_time_layer):
  """Multiply-add FLOPs of one forward pass of ``FourierTimeMLP`` for one sample."""
  widths = (dim,) + tuple(sizes) + (dim,)
  flops = sum(2 * a * b for a, b in zip(widths[:-1], widths[1:]))
  if with_time_layer:
    flops += 2 * (2 * num_frequencies + 1) * sizes[0]
  return flops


def main(argv):
  del argv
  if not _SINGLE.value:
    parallel.use_all_cpu_cores()  # before the first device is touched
  config = adjoint_config.get_config()
  target = targets.make_target(
      "gmm", well_scale=config.well_scale, gmm_weights=config.gmm_weights,
      gmm_means=config.gmm_means, gmm_covariance_diagonals=config.gmm_covariance_diagonals)
  algorithm = adjoint_sampling.adjoint_sampler(
      control=adjoint_sampling.control_network(
          dim=target.dim, hidden_sizes=config.hidden_sizes,
          num_frequencies=config.num_frequencies, activation=config.activation),
      target=target, schedule=schedules.GeometricSchedule(config.sigma_min, config.sigma_max),
      optimizer=optax.adam(config.learning_rate), max_adjoint_norm=config.max_adjoint_norm,
      num_paths=config.n_paths, num_steps=config.num_steps, inner_steps=config.n_inner_loop,
      batch_size=config.batch_size, buffer_capacity=config.buffer_size,
      ema_decay=config.ema_decay)
  state = algorithm.init(jax.random.key(0))
  runner = driver.make_runner(algorithm.step, jax.random.key(1))
  # As driver.train lays out its carry: (step number, state, args), replicated.
  carry = parallel.replicate((jnp.asarray(0, jnp.int32), state, ()))

  start = time.perf_counter()
  carry, _ = runner(carry, _EPOCHS.value)
  jax.block_until_ready(carry)
  first = time.perf_counter() - start
  start = time.perf_counter()
  carry, _ = runner(carry, _EPOCHS.value)
  jax.block_until_ready(carry)
  elapsed = time.perf_counter() - start

  sim = config.n_paths * config.num_steps * network_flops(
      config.hidden_sizes, target.dim, config.num_frequencies, False)
  train = 3 * config.n_inner_loop * config.batch_size * network_flops(
      config.hidden_sizes, target.dim, config.num_frequencies, True)
  epoch_flops = sim + train
  rate = _EPOCHS.value / elapsed
  print(f"devices: {len(jax.devices())} ({jax.devices()[0].platform}); "
        f"hidden sizes {tuple(config.hidden_sizes)}")
  print(f"compile + first {_EPOCHS.value} epochs: {first:.2f} s")
  print(f"{rate:.2f} epochs/s | {epoch_flops * rate / 1e9:.1f} GFLOP/s achieved | "
        f"{epoch_flops / 1e9:.2f} GFLOP per epoch, "
        f"{200 * epoch_flops / 1e12:.2f} TFLOP for 200 epochs | "
        f"200 epochs would take {200 / rate:.1f} s")


if __name__ == "__main__":
  app.run(main)

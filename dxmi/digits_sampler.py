"""The digits pieces of DxMI: the few-step sampler built on the cached DDPM, the energy network."""

import jax
import jax.numpy as jnp
import numpy as np

from common import digit_models
from common import digits
from common import fastdpm
from common import networks
from common import parallel
from dxmi import algorithm


def policy(num_steps: int, spacing: fastdpm.Spacing = "quadratic",
           reduction: str = "var") -> tuple[algorithm.Policy, fastdpm.ReducedSchedule]:
  """The DDPM's ε-network on a FastDPM reduction ('var' or 'step') to ``num_steps`` steps."""
  make = {"var": fastdpm.var_schedule, "step": fastdpm.step_schedule}[reduction]
  reduced = make(num_steps, spacing)
  network = digit_models.ddpm_network()
  return algorithm.make_policy(network.apply, reduced, digits.DIM), reduced


def energy_network(hidden: tuple[int, ...]) -> tuple[networks.FourierTimeMLP, algorithm.ValueFn]:
  """A time-independent MLP E(x); as a DxMI value V(x, t) = E(x) for every t."""
  network = networks.FourierTimeMLP(tuple(hidden), 1, num_frequencies=0)
  return network, lambda params, x, t: network.apply(params, None, x)[..., 0]


def sampler(few_step: algorithm.Policy, num: int, guidance_fn=None):
  """A jitted ``draw(params, key) -> (num, 64)`` of final states, optionally value-guided.

  ``guidance_fn(params) -> guidance`` builds the guidance of ``algorithm.sample_trajectory``
  from the sampler's parameters (value guidance scales with σ_t). The trajectories are split
  over the devices: ``num`` is rounded up to a multiple of their count and the first ``num``
  kept, the same digits as on one device (JAX's partitionable random numbers do not depend on
  how many follow).
  """
  padded = parallel.padded_size(num)

  def draw(params: dict, key: jax.Array) -> jax.Array:
    guidance = None if guidance_fn is None else guidance_fn(params)
    final = algorithm.sample_trajectory(few_step, params, key, padded, guidance)[-1, :num]
    return parallel.gather(final)  # whole on every host, for the metrics
  return jax.jit(draw)


def data_batches(x_train: np.ndarray, batch_size: int):
  """``key -> (batch_size, 64)`` rows of the training digits, drawn with replacement."""
  x_train = jnp.asarray(x_train)
  return lambda key: x_train[jax.random.randint(key, (batch_size,), 0, x_train.shape[0])]

"""The digits pieces of DxMI: the few-step sampler built on the cached DDPM, the energy network."""

import jax

from common.digits import data as digits
from common.digits import models as digit_models
from common.networks import mlp as networks
from dxmi import fastdpm
from dxmi import policy as policy_lib


def policy(num_steps: int, spacing: fastdpm.Spacing = "quadratic",
           reduction: str = "var") -> tuple[policy_lib.Policy, fastdpm.ReducedSchedule]:
  """The DDPM's ε-network on a FastDPM reduction ('var' or 'step') to ``num_steps`` steps."""
  make = {"var": fastdpm.var_schedule, "step": fastdpm.step_schedule}[reduction]
  reduced = make(num_steps, spacing)
  network = digit_models.ddpm_network()
  return policy_lib.make_policy(network.apply, reduced, digits.DIM), reduced


def energy_network(hidden: tuple[int, ...]) -> tuple[networks.FourierTimeMLP, policy_lib.ValueFn]:
  """A time-independent MLP E(x); as a DxMI value V(x, t) = E(x) for every t."""
  network = networks.FourierTimeMLP(tuple(hidden), 1, num_frequencies=0)
  return network, lambda params, x, t: network.apply(params, None, x)[..., 0]


def sampler(few_step: policy_lib.Policy, num: int, guidance_fn=None):
  """A jitted ``draw(params, key) -> (num, 64)`` of final states (``policy.final_states``),
  optionally value-guided: ``guidance_fn(params) -> guidance`` builds the guidance of
  ``policy.sample_trajectory`` from the sampler's parameters (value guidance scales with σ_t)."""

  def draw(params: dict, key: jax.Array) -> jax.Array:
    guidance = None if guidance_fn is None else guidance_fn(params)
    return policy_lib.final_states(few_step, params, key, num, guidance)
  return jax.jit(draw)

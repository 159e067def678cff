"""One step of each method at tiny sizes, on however many devices the process has.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/parallel_steps.py out.npz

Run by ``tests/test_parallel.py`` once with one device and once with eight. Writes, per method,
the step's outputs (``<method>/<name>`` arrays) and, for the population each method splits over
the devices, the sharding it came out with (``<method>/sharded/<name>``: the number of devices
holding a distinct share, i.e. 1 when the array is whole on every device).
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from adjoint import asbs_training
from adjoint import schedules
from adjoint import targets as adjoint_targets
from common.diffusion import ddpm
from common.infra import parallel
from common.networks import mlp as networks
from common.targets import benchmarks as targets
from common.targets import energies
from configs import dikl_mog
from dikl import presets as dikl_presets
from dxmi import algorithm as dxmi_algorithm
from dxmi import fastdpm
from dxmi import policy as dxmi_policy
from implicit_diffusion import algorithm as id_algorithm
from implicit_diffusion import reward

N = 16  # every population: two rows per device on eight
DIM = 2


def num_shares(x: jax.Array) -> int:
  """How many distinct pieces ``x`` is cut into over the devices (1: replicated)."""
  shard_shape = x.sharding.shard_shape(x.shape)
  return int(np.prod(x.shape) // max(np.prod(shard_shape), 1))


def flat(prefix: str, tree) -> dict[str, np.ndarray]:
  leaves = jax.tree_util.tree_leaves_with_path(tree)
  return {f"{prefix}/{jax.tree_util.keystr(path)}": np.asarray(leaf) for path, leaf in leaves}


def implicit_diffusion() -> dict[str, np.ndarray]:
  algorithm = id_algorithm.implicit_diffusion(
      reward_fn=reward.REWARDS["hard"], component_rewards=jnp.zeros(6), theta_init=jnp.zeros(6),
      num_particles=N)
  draw = id_algorithm.single_loop_draw(num_particles=N, num_reference=1,
                                       theta_init=jnp.zeros(6), reference_std=2.0)
  init, advance = id_algorithm.make_runner(algorithm, 1, draw)
  carry = init(jnp.asarray([0]))
  carry, infos = advance(carry, 3)
  carry, _ = advance(carry, 3)  # the same layout in and out: no second compilation
  state = carry[1]
  return {**flat("implicit_diffusion", (state, infos)),
          "implicit_diffusion/sharded/particles": num_shares(state.particles),
          "implicit_diffusion/sharded/theta": num_shares(state.theta),
          "implicit_diffusion/compilations": advance._cache_size()}


def adjoint() -> dict[str, np.ndarray]:
  """An ASBS adjoint-matching epoch, its samples, then a corrector epoch on its control."""
  sampler = asbs_training.asbs_sampler(
      control=networks.FourierTimeMLP((16, 16), DIM, 4),
      corrector=networks.FourierTimeMLP((16,), DIM, 0),
      target=adjoint_targets.quadratic_well(0.5), schedule=schedules.GeometricSchedule(0.01, 2.0),
      optimizer=optax.adam(1e-3), corrector_optimizer=optax.adam(1e-3),
      sample_prior=asbs_training.gaussian_prior([0.0, 0.0], [1.0, 1.0]), max_adjoint_norm=None,
      num_paths=N, num_steps=10, inner_steps=2, batch_size=N, buffer_capacity=2 * N)
  step = jax.jit(sampler.step)
  state = parallel.replicate(sampler.init(jax.random.key(0)))
  state, info = step(jax.random.key(1), state,
                     jnp.asarray(asbs_training.Phase.FIRST_ADJOINT, jnp.int32))
  paths = jax.jit(sampler.sample, static_argnums=2)(
      jax.random.key(2), state.control.sampling_params, N)
  state, corrector_info = step(jax.random.key(4), state,
                               jnp.asarray(asbs_training.Phase.CORRECTOR, jnp.int32))
  control = state.control
  return {**flat("adjoint", (control.params, control.buffer.data, info, paths,
                             state.corrector.params, corrector_info)),
          "adjoint/sharded/paths": num_shares(paths),
          "adjoint/sharded/buffer": num_shares(control.buffer.data.x1),
          "adjoint/sharded/params": num_shares(jax.tree.leaves(control.params)[0])}


def dikl_iteration() -> dict[str, np.ndarray]:
  config = dikl_mog.get_config("quick")
  config.generator_hidden, config.generator_layers = 16, 2
  config.score_hidden, config.score_layers = 16, 2
  config.batch_size = config.score_batch_size = N
  config.score_steps, config.num_importance, config.mala_steps = 2, 4, 2
  sampler = dikl_presets.make_sampler(config, targets.get_target("mog"), sample_batch_size=N)
  state = parallel.replicate(sampler.init(jax.random.key(0)))
  state, info = jax.jit(sampler.step)(jax.random.key(1), state)
  samples = sampler.sample(jax.random.key(2), state.generator, N)
  return {**flat("dikl", (state.generator, state.score, info, samples)),
          "dikl/sharded/samples": num_shares(samples)}


def dxmi() -> dict[str, np.ndarray]:
  num_steps, dim = 4, 3
  eps_net = networks.FourierTimeMLP((16,), dim, 4)
  value_net = networks.FourierTimeMLP((16,), 1, 0)
  policy = dxmi_policy.make_policy(lambda p, x, tau: eps_net.apply(p, tau / 1000.0, x),
                                   fastdpm.var_schedule(num_steps), dim)
  value_fn = lambda p, x, t: value_net.apply(p, None, x)[..., 0]
  algorithm = dxmi_algorithm.dxmi(
      policy=policy, value_fn=value_fn, sampler_optimizer=dxmi_algorithm.sampler_optimizer(1e-3),
      value_optimizer=optax.adam(1e-3), policy_batch=N, buffer_capacity=2 * N * num_steps)
  net_params = eps_net.init(jax.random.key(0), jnp.zeros((1,)), jnp.zeros((1, dim)))
  sampler_params = dxmi_policy.init_sampler_params(
      policy, net_params, fastdpm.var_schedule(num_steps).std)
  value_params = value_net.init(jax.random.key(1), None, jnp.zeros((1, dim)))
  state = parallel.replicate(algorithm.init(jax.random.key(2), sampler_params, value_params))
  data = jax.random.normal(jax.random.key(3), (N, dim)) + 1.0
  state, info = jax.jit(algorithm.step)(jax.random.key(4), state, data)
  trajectory = jax.jit(lambda params, key: dxmi_policy.sample_trajectory(
      policy, params, key, N))(state.sampler_params, jax.random.key(5))
  # A count that does not divide by eight: padded on the devices, the first N − 3 kept.
  samples = jax.jit(algorithm.sample, static_argnums=2)(jax.random.key(6), state.sampler_params,
                                                        N - 3)
  return {**flat("dxmi", (state.sampler_params, state.value_params, state.avr, info,
                          trajectory, samples)),
          "dxmi/sharded/trajectory": num_shares(trajectory)}


def reward_guidance() -> dict[str, np.ndarray]:
  from reward_guidance import guidance  # pylint: disable=g-import-not-at-top
  dim = 4
  eps_net = networks.FourierTimeMLP((16,), dim, 4)
  eps_params = eps_net.init(jax.random.key(0), jnp.zeros((1,)), jnp.zeros((1, dim)))
  eps_params = jax.tree.map(lambda p: p + 0.1, eps_params)  # a non-zero output layer
  eps_fn = lambda x, t: eps_net.apply(eps_params, t / 1000.0, x)
  schedule = ddpm.linear_schedule()
  sampler = guidance.guided_ddim(
      eps_fn=eps_fn, predictor_apply=lambda weights, x: jnp.tanh(x) @ weights,
      schedule=schedule, timesteps=ddpm.ddim_timesteps(5, schedule.num_steps), dim=dim,
      batch_mean=True)
  params = guidance.GuidanceParams(jnp.arange(1.0, dim + 1.0), jnp.float32(2.0),
                                   jnp.float32(4.0))
  samples = jax.jit(sampler.sample, static_argnums=2)(jax.random.key(1), params, N)
  return {"reward_guidance/samples": np.asarray(samples),
          "reward_guidance/sharded/samples": num_shares(samples)}


def batch_error() -> str:
  """The message of a population that does not split evenly (empty on one device)."""
  try:
    jax.jit(lambda x: parallel.shard_batch(x, "config.n_paths"))(jnp.zeros((N + 1, DIM)))
  except ValueError as e:
    return str(e)
  return ""


def main(path: str) -> None:
  outputs = {"devices": jax.device_count(), "mesh_axis_types": str(parallel.mesh().axis_types),
             "batch_error": batch_error()}
  for method in (implicit_diffusion, adjoint, dikl_iteration, dxmi, reward_guidance):
    outputs.update(method())
  np.savez(path, **outputs)


if __name__ == "__main__":
  main(sys.argv[1])

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

from adjoint import adjoint_matching
from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import controlled_sde
from common import ddpm
from common import energies
from common import fastdpm
from common import networks
from common import parallel
from common import schedules
from common import targets
from configs import dikl_mog
from dikl import dikl
from dxmi import algorithm as dxmi_algorithm
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
      reward.REWARDS["hard"], jnp.zeros(6), jnp.zeros(6), num_particles=N)
  init, advance = id_algorithm.make_runner(algorithm, 1)
  carry = init(jnp.asarray([0]))
  carry, infos = advance(carry, 3)
  carry, _ = advance(carry, 3)  # the same layout in and out: no second compilation
  state = carry[1]
  return {**flat("implicit_diffusion", (state, infos)),
          "implicit_diffusion/sharded/particles": num_shares(state.particles),
          "implicit_diffusion/sharded/theta": num_shares(state.theta),
          "implicit_diffusion/compilations": advance._cache_size()}


def adjoint() -> dict[str, np.ndarray]:
  """An Adjoint Sampling epoch, then an ASBS corrector epoch on its control."""
  schedule = schedules.GeometricSchedule(0.01, 2.0)
  control = networks.FourierTimeMLP((16, 16), DIM, 4)
  energy = lambda x: energies.quadratic_energy(x, 0.5)
  am = adjoint_matching.adjoint_matching(
      control.apply, schedule, optax.adam(1e-3), adjoint_sampling.dirac_prior(DIM),
      adjoint_sampling.point_start_adjoint(energy, schedule, None),
      num_paths=N, num_steps=10, inner_steps=2, batch_size=N, buffer_capacity=2 * N)
  params = control.init(jax.random.key(0), jnp.zeros(()), jnp.zeros((1, DIM)))
  state = parallel.replicate(am.init(params, DIM))
  state, info = jax.jit(am.step)(jax.random.key(1), state)
  paths = jax.jit(controlled_sde.simulate, static_argnums=(1, 5))(
      jax.random.key(2), control.apply, state.sampling_params, schedule,
      jnp.ones((N, DIM)), 10)

  corrector_net = networks.FourierTimeMLP((16,), DIM, 0)
  corrector_apply = lambda p, x: corrector_net.apply(p, None, x)
  corrector = asbs_training.corrector_matching(
      corrector_apply, control.apply, schedule, optax.adam(1e-3),
      asbs_training.gaussian_prior([0.0, 0.0], [1.0, 1.0]), num_paths=N, num_steps=10,
      inner_steps=2, batch_size=N)
  corrector_state = parallel.replicate(
      corrector.init(corrector_net.init(jax.random.key(3), None, jnp.zeros((1, DIM)))))
  corrector_state, corrector_info = jax.jit(corrector.step)(
      jax.random.key(4), corrector_state, state.sampling_params)
  return {**flat("adjoint", (state.params, state.buffer.data, info, paths, corrector_state.params,
                             corrector_info)),
          "adjoint/sharded/paths": num_shares(paths),
          "adjoint/sharded/buffer": num_shares(state.buffer.data.x1),
          "adjoint/sharded/params": num_shares(jax.tree.leaves(state.params)[0])}


def dikl_iteration() -> dict[str, np.ndarray]:
  config = dikl_mog.get_config("quick")
  config.generator_hidden, config.generator_layers = 16, 2
  config.score_hidden, config.score_layers = 16, 2
  config.batch_size = config.score_batch_size = N
  config.score_steps, config.num_importance, config.mala_steps = 2, 4, 2
  trainer = dikl.make_trainer(config, targets.get_target("mog"))
  state = parallel.replicate(trainer.init(jax.random.key(0)))
  state, info = jax.jit(trainer.iteration)(jax.random.key(1), state)
  samples = dikl.sample(trainer.networks, state.generator, jax.random.key(2), N, batch_size=N)
  return {**flat("dikl", (state.generator, state.score, info, samples)),
          "dikl/sharded/samples": num_shares(samples)}


def dxmi() -> dict[str, np.ndarray]:
  num_steps, dim = 4, 3
  eps_net = networks.FourierTimeMLP((16,), dim, 4)
  value_net = networks.FourierTimeMLP((16,), 1, 0)
  policy = dxmi_algorithm.make_policy(lambda p, x, tau: eps_net.apply(p, tau / 1000.0, x),
                                      fastdpm.var_schedule(num_steps), dim)
  value_fn = lambda p, x, t: value_net.apply(p, None, x)[..., 0]
  algorithm = dxmi_algorithm.dxmi(policy, value_fn, dxmi_algorithm.DxMIConfig(
      policy_batch=N, buffer_capacity=2 * N * num_steps, sampler_lr=1e-3, value_lr=1e-3))
  net_params = eps_net.init(jax.random.key(0), jnp.zeros((1,)), jnp.zeros((1, dim)))
  sampler_params = dxmi_algorithm.init_sampler_params(
      policy, net_params, fastdpm.var_schedule(num_steps).std)
  value_params = value_net.init(jax.random.key(1), None, jnp.zeros((1, dim)))
  state = parallel.replicate(algorithm.init(jax.random.key(2), sampler_params, value_params))
  data = jax.random.normal(jax.random.key(3), (N, dim)) + 1.0
  state, info = jax.jit(algorithm.step)(jax.random.key(4), state, data)
  trajectory = jax.jit(lambda params, key: dxmi_algorithm.sample_trajectory(
      policy, params, key, N))(state.sampler_params, jax.random.key(5))
  return {**flat("dxmi", (state.sampler_params, state.value_params, state.avr, info,
                          trajectory)),
          "dxmi/sharded/trajectory": num_shares(trajectory)}


def reward_guidance() -> dict[str, np.ndarray]:
  from reward_guidance import guidance  # pylint: disable=g-import-not-at-top
  dim = 4
  eps_net = networks.FourierTimeMLP((16,), dim, 4)
  eps_params = eps_net.init(jax.random.key(0), jnp.zeros((1,)), jnp.zeros((1, dim)))
  eps_params = jax.tree.map(lambda p: p + 0.1, eps_params)  # a non-zero output layer
  eps_fn = lambda x, t: eps_net.apply(eps_params, t / 1000.0, x)
  weights = jnp.arange(1.0, dim + 1.0)
  predict = lambda x: jnp.tanh(x) @ weights
  schedule = ddpm.linear_schedule()
  timesteps = jnp.asarray(ddpm.ddim_timesteps(5, schedule.num_steps))
  x_init = jax.random.normal(jax.random.key(1), (N, dim))
  samples = jax.jit(lambda x: guidance.sample(eps_fn, predict, schedule, timesteps, x,
                                              jnp.float32(2.0), jnp.float32(4.0), True))(x_init)
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

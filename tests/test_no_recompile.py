"""The hot loops compile once: calling them again, on the carry they returned, compiles nothing.

A recompilation would come from a carry whose shape, dtype, weak type or sharding differs from
the one the loop was compiled for; ``common.compilation.count_compilations`` sees every XLA
compilation of the process. Small sizes, so that the whole file runs in seconds.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adjoint import adjoint_matching
from adjoint import adjoint_sampling
from adjoint import controlled_sde
from adjoint import training as adjoint_training
from common import compilation
from common import ddpm
from common import fastdpm
from common import loops
from common import networks
from common import targets as targets_lib
from configs import adjoint as adjoint_config
from configs import dikl_mog
from configs import implicit_diffusion as implicit_diffusion_config
from dikl import dikl
from dxmi import algorithm as dxmi_algorithm
from dxmi import training as dxmi_training
from implicit_diffusion import algorithm as id_algorithm
from implicit_diffusion import reward as id_reward
from reward_guidance import guidance


def _compilations(fn, *args):
  with compilation.count_compilations() as record:
    out = fn(*args)
    jax.block_until_ready(out)
  return record.count, out


def test_count_compilations_sees_a_recompilation():
  double = jax.jit(lambda x: 2 * x)
  first, _ = _compilations(double, jnp.ones(3))
  again, _ = _compilations(double, jnp.ones(3))
  new_shape, _ = _compilations(double, jnp.ones(4))
  assert (first, again, new_shape) == (1, 0, 1)


def _chunks_twice(advance, carry, num_steps, chunk):
  """Runs ``scan_in_chunks`` twice; returns the compilations of the second run."""
  carry, _ = loops.scan_in_chunks(advance, carry, num_steps, chunk)
  count, _ = _compilations(lambda c: loops.scan_in_chunks(advance, c, num_steps, chunk)[0],
                           carry)
  return count


@pytest.mark.parametrize("num_seeds", [1, 2])
def test_implicit_diffusion_loop_compiles_once(num_seeds):
  config = implicit_diffusion_config.get_config()
  algorithm = id_algorithm.implicit_diffusion(
      id_reward.hard_reward, np.zeros(6, np.float32), np.asarray(config.theta_init, np.float32),
      num_particles=16)
  init, advance = id_algorithm.make_runner(algorithm, num_seeds)
  carry = init(jnp.arange(num_seeds))
  assert _chunks_twice(advance, carry, 7, 5) == 0  # a chunk and a remainder, twice


def test_euler_maruyama_simulation_compiles_once():
  config = adjoint_config.get_config()
  config.hidden_sizes = (8,)
  schedule = adjoint_sampling.schedule_from(config)
  network = adjoint_sampling.control_network(config, 2)
  params = network.init(jax.random.key(0), jnp.zeros(()), jnp.zeros((1, 2)))
  simulate = jax.jit(controlled_sde.simulate, static_argnums=(1, 5))
  x0 = jnp.zeros((8, 2))
  x1 = simulate(jax.random.key(1), network.apply, params, schedule, x0, 5)
  count, _ = _compilations(simulate, jax.random.key(2), network.apply, params, schedule, x1, 5)
  assert count == 0


def test_adjoint_sampling_epochs_compile_once():
  config = adjoint_config.get_config()
  config.hidden_sizes = (8,)
  schedule = adjoint_sampling.schedule_from(config)
  network = adjoint_sampling.control_network(config, 2)
  energy = lambda x: 0.5 * jnp.sum(x**2)
  algorithm = adjoint_matching.adjoint_matching(
      network.apply, schedule, optax.adam(1e-3), adjoint_sampling.dirac_prior(2),
      adjoint_sampling.point_start_adjoint(energy, schedule, 100.0), num_paths=8, num_steps=4,
      inner_steps=2, batch_size=4, buffer_capacity=16, ema_decay=0.9)
  params = network.init(jax.random.key(0), jnp.zeros(()), jnp.zeros((1, 2)))
  runner = adjoint_training.make_epoch_runner(algorithm.step)
  key, state, _ = adjoint_training.run_epochs(runner, jax.random.key(1), algorithm.init(params, 2),
                                              (), 2, 2, progress=False)
  count, _ = _compilations(
      lambda: adjoint_training.run_epochs(runner, key, state, (), 2, 2, progress=False))
  assert count == 0


def test_dikl_iterations_compile_once():
  config = dikl_mog.get_config("quick")
  config.generator_hidden = config.score_hidden = 8
  config.generator_layers = config.score_layers = 1
  config.batch_size = config.score_batch_size = 8
  config.score_steps = config.mala_steps = config.num_importance = 2
  trainer = dikl.make_trainer(config, targets_lib.get_target("mog"))
  key = jax.random.key(1)
  step = lambda state: trainer.iteration(jax.random.fold_in(key, state.iteration), state)
  assert _chunks_twice(loops.make_chunk_runner(step), trainer.init(jax.random.key(0)), 2, 2) == 0


def test_dxmi_iterations_compile_once():
  eps_net = ddpm.ResidualMLP(out_dim=2, width=8, num_blocks=1, time_dim=4)
  start = fastdpm.var_schedule(2)
  policy = dxmi_algorithm.make_policy(eps_net.apply, start, dim=2)
  value_net = networks.FourierTimeMLP((8,), 1, 2)
  value_fn = lambda p, x, t: value_net.apply(p, t / 2.0, x)[..., 0]
  method = dxmi_algorithm.dxmi(policy, value_fn, dxmi_algorithm.DxMIConfig(
      policy_batch=4, buffer_capacity=32, running_cost_in_value=True))
  params = dxmi_algorithm.init_sampler_params(
      policy, eps_net.init(jax.random.key(0), jnp.zeros((1, 2)), jnp.zeros((1,))), start.std)
  state = method.init(jax.random.key(1), params,
                      value_net.init(jax.random.key(2), jnp.zeros((1,)), jnp.zeros((1, 2))))
  advance = dxmi_training.make_runner(method, lambda k: jax.random.normal(k, (4, 2)))
  assert _chunks_twice(advance, (jax.random.key(3), state), 2, 2) == 0


def test_guided_ddim_compiles_once():
  schedule = ddpm.linear_schedule(20)
  timesteps = jnp.asarray(ddpm.ddim_timesteps(5, 20))
  eps_fn = lambda x, t: 0.1 * x
  predict = lambda x: jnp.sum(x**2, axis=-1)
  sample = jax.jit(lambda x, target, strength: guidance.sample(
      eps_fn, predict, schedule, timesteps, x, target, strength))
  x = sample(jnp.ones((4, 3)), jnp.float32(1.0), jnp.float32(2.0))
  count, _ = _compilations(sample, x, jnp.float32(0.5), jnp.float32(3.0))
  assert count == 0

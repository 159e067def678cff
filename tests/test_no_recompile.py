"""The hot loops compile once: calling them again, on the carry they returned, compiles nothing.

A recompilation would come from a carry whose shape, dtype, weak type or sharding differs from
the one the loop was compiled for; ``common.infra.compilation.count_compilations`` sees every XLA
compilation of the process. Small sizes, so that the whole file runs in seconds.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import controlled_sde
from adjoint import schedules
from adjoint import targets as adjoint_targets
from common.diffusion import ddpm
from common.infra import compilation
from common.networks import mlp as networks
from common.networks import residual_mlp
from common.targets import benchmarks as targets_lib
from common.training import driver
from common.training import loops
from configs import dikl_mog
from configs import implicit_diffusion as implicit_diffusion_config
from dikl import presets as dikl_presets
from dxmi import algorithm as dxmi_algorithm
from dxmi import fastdpm
from dxmi import policy as dxmi_policy
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
  theta_init = np.asarray(config.theta_init, np.float32)
  algorithm = id_algorithm.implicit_diffusion(
      reward_fn=id_reward.hard_reward, component_rewards=np.zeros(6, np.float32),
      theta_init=theta_init, num_particles=16)
  draw = id_algorithm.single_loop_draw(num_particles=16, num_reference=config.bs_ref,
                                       theta_init=theta_init, reference_std=config.ref_std)
  init, advance = id_algorithm.make_runner(algorithm, num_seeds, draw)
  carry = init(jnp.arange(num_seeds))
  assert _chunks_twice(advance, carry, 7, 5) == 0  # a chunk and a remainder, twice


def _small_control():
  return adjoint_sampling.control_network(dim=2, hidden_sizes=(8,), num_frequencies=8,
                                          activation="relu")


def test_euler_maruyama_simulation_compiles_once():
  schedule = schedules.GeometricSchedule(1e-3, 1.0)
  network = _small_control()
  params = network.init(jax.random.key(0), jnp.zeros(()), jnp.zeros((1, 2)))
  simulate = jax.jit(controlled_sde.simulate, static_argnums=(1, 5))
  x0 = jnp.zeros((8, 2))
  x1 = simulate(jax.random.key(1), network.apply, params, schedule, x0, 5)
  count, _ = _compilations(simulate, jax.random.key(2), network.apply, params, schedule, x1, 5)
  assert count == 0


_SMALL_MATCHING = dict(
    schedule=schedules.GeometricSchedule(1e-3, 1.0), optimizer=optax.adam(1e-3),
    max_adjoint_norm=100.0, num_paths=8, num_steps=4, inner_steps=2, batch_size=4,
    buffer_capacity=16, ema_decay=0.9)


def _driver_resumes_without_compiling(step, state, batch_fn=None):
  """Two steps through the driver, then two more resumed at step 2: the second call must reuse
  the runner's compilation."""
  key = jax.random.key(3)
  runner = driver.make_runner(step, key, batch_fn)
  train = lambda state, done: driver.train(step, state, key, num_steps=done + 2, chunk_size=2,
                                           done=done, batch_fn=batch_fn, runner=runner,
                                           progress=False)[0]
  count, _ = _compilations(train, train(state, 0), 2)
  return count


def test_adjoint_sampling_epochs_compile_once():
  sampler = adjoint_sampling.adjoint_sampler(
      control=_small_control(), target=adjoint_targets.quadratic_well(1.0), **_SMALL_MATCHING)
  assert _driver_resumes_without_compiling(sampler.step, sampler.init(jax.random.key(0))) == 0


def test_asbs_phases_share_one_compilation():
  sampler = asbs_training.asbs_sampler(
      control=_small_control(), corrector=networks.FourierTimeMLP((8,), 2, 0),
      target=adjoint_targets.quadratic_well(1.0), corrector_optimizer=optax.adam(1e-3),
      sample_prior=asbs_training.gaussian_prior([0.0, 0.0], [1.0, 1.0]), **_SMALL_MATCHING)
  runner = driver.make_runner(sampler.step, jax.random.key(1))
  carry = lambda i, state, phase: (jnp.asarray(i, jnp.int32), state,
                                   (jnp.asarray(phase, jnp.int32),))
  state = runner(carry(0, sampler.init(jax.random.key(0)), asbs_training.Phase.FIRST_ADJOINT),
                 2)[0][1]
  for phase in (asbs_training.Phase.CORRECTOR, asbs_training.Phase.ADJOINT):
    count, (done, _) = _compilations(runner, carry(2, state, phase), 2)
    state = done[1]
    assert count == 0, phase


def test_dikl_iterations_compile_once():
  config = dikl_mog.get_config("quick")
  config.generator_hidden = config.score_hidden = 8
  config.generator_layers = config.score_layers = 1
  config.batch_size = config.score_batch_size = 8
  config.score_steps = config.mala_steps = config.num_importance = 2
  sampler = dikl_presets.make_sampler(config, targets_lib.get_target("mog"))
  assert _driver_resumes_without_compiling(sampler.step, sampler.init(jax.random.key(0))) == 0


def test_dxmi_iterations_compile_once():
  eps_net = residual_mlp.ResidualMLP(out_dim=2, width=8, num_blocks=1, time_dim=4)
  start = fastdpm.var_schedule(2)
  policy = dxmi_policy.make_policy(eps_net.apply, start, dim=2)
  value_net = networks.FourierTimeMLP((8,), 1, 2)
  value_fn = lambda p, x, t: value_net.apply(p, t / 2.0, x)[..., 0]
  method = dxmi_algorithm.dxmi(
      policy=policy, value_fn=value_fn, sampler_optimizer=dxmi_algorithm.sampler_optimizer(1e-6),
      value_optimizer=optax.adam(1e-5), policy_batch=4, buffer_capacity=32,
      running_cost_in_value=True)
  params = dxmi_policy.init_sampler_params(
      policy, eps_net.init(jax.random.key(0), jnp.zeros((1, 2)), jnp.zeros((1,))), start.std)
  state = method.init(jax.random.key(1), params,
                      value_net.init(jax.random.key(2), jnp.zeros((1,)), jnp.zeros((1, 2))))
  draw = lambda k: (jax.random.normal(k, (4, 2)),)
  assert _driver_resumes_without_compiling(method.step, state, draw) == 0


def test_guided_ddim_compiles_once():
  schedule = ddpm.linear_schedule(20)
  timesteps = jnp.asarray(ddpm.ddim_timesteps(5, 20))
  eps_fn = lambda x, t: 0.1 * x
  sampler = guidance.guided_ddim(
      eps_fn=eps_fn, predictor_apply=lambda scale, x: scale * jnp.sum(x**2, axis=-1),
      schedule=schedule, timesteps=timesteps, dim=3)
  sample = jax.jit(sampler.sample, static_argnums=2)
  sample(jax.random.key(0), guidance.GuidanceParams(jnp.float32(1.0), jnp.float32(1.0),
                                                    jnp.float32(2.0)), 4)
  count, _ = _compilations(sample, jax.random.key(1), guidance.GuidanceParams(
      jnp.float32(0.7), jnp.float32(0.5), jnp.float32(3.0)), 4)
  assert count == 0

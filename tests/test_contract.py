"""Every method follows the one contract of ``common.types``.

Each algorithm, built at tiny sizes from keyword arguments, gives ``init(key, ...) -> State``;
its ``step(key, state, *batch) -> (State, Info)`` jits, and two steps keep the State's structure,
shapes and dtypes, with State and Info NamedTuples of arrays. No factory takes a configuration.
"""

import inspect

import jax
import jax.numpy as jnp
import optax
import pytest

from adjoint import adjoint_sampling
from adjoint import asbs_training
from adjoint import nakkiran_ddpm
from adjoint import schedules
from adjoint import targets as adjoint_targets
from common import types
from common.diffusion import ddpm
from common.networks import generator
from common.networks import mlp
from dikl import dikl
from dikl import posterior
from dxmi import algorithm as dxmi_algorithm
from dxmi import fastdpm
from dxmi import policy as dxmi_policy
from implicit_diffusion import algorithm as id_algorithm
from implicit_diffusion import reward
from reward_guidance import guidance
from reward_guidance import predictor

N = 8


def _implicit_diffusion():
  algorithm = id_algorithm.implicit_diffusion(
      reward_fn=reward.REWARDS["hard"], component_rewards=jnp.zeros(6), theta_init=jnp.zeros(6),
      num_particles=N)
  return id_algorithm.implicit_diffusion, algorithm, (jax.random.key(0),), ()


def _dikl():
  sampler = dikl.dikl(
      generator=generator.MLPGenerator((8,), 2), score_network=mlp.FourierTimeMLP((8,), 2, 2),
      target_score=posterior.make_noisy_score(lambda x: 0.5 * jnp.sum(x**2), num_importance=2,
                                              mala_steps=1),
      generator_optimizer=optax.adam(1e-3), score_optimizer=optax.adam(1e-3), dim=2,
      latent_dim=2, batch_size=N, score_batch_size=N, score_steps=2, num_levels=4)
  return dikl.dikl, sampler, (jax.random.key(0),), ()


def _dxmi():
  num_steps, dim = 3, 2
  eps_net, value_net = mlp.FourierTimeMLP((8,), dim, 2), mlp.FourierTimeMLP((8,), 1, 0)
  policy = dxmi_policy.make_policy(lambda p, x, tau: eps_net.apply(p, tau / 1000.0, x),
                                   fastdpm.var_schedule(num_steps), dim)
  algorithm = dxmi_algorithm.dxmi(
      policy=policy, value_fn=lambda p, x, t: value_net.apply(p, None, x)[..., 0],
      sampler_optimizer=dxmi_algorithm.sampler_optimizer(1e-3), value_optimizer=optax.adam(1e-3),
      policy_batch=N, buffer_capacity=2 * N * num_steps)
  net_params = eps_net.init(jax.random.key(1), jnp.zeros((1,)), jnp.zeros((1, dim)))
  sampler_params = dxmi_policy.init_sampler_params(policy, net_params,
                                                   fastdpm.var_schedule(num_steps).std)
  value_params = value_net.init(jax.random.key(2), None, jnp.zeros((1, dim)))
  data = jax.random.normal(jax.random.key(3), (N, dim))
  return (dxmi_algorithm.dxmi, algorithm, (jax.random.key(0), sampler_params, value_params),
          (data,))


def _adjoint_sampling():
  sampler = adjoint_sampling.adjoint_sampler(
      control=mlp.FourierTimeMLP((8,), 2, 2), target=adjoint_targets.quadratic_well(0.5),
      schedule=schedules.GeometricSchedule(0.01, 2.0), optimizer=optax.adam(1e-3),
      max_adjoint_norm=None, num_paths=N, num_steps=4, inner_steps=2, batch_size=N,
      buffer_capacity=2 * N)
  return adjoint_sampling.adjoint_sampler, sampler, (jax.random.key(0),), ()


def _asbs():
  sampler = asbs_training.asbs_sampler(
      control=mlp.FourierTimeMLP((8,), 2, 2), corrector=mlp.FourierTimeMLP((8,), 2, 0),
      target=adjoint_targets.quadratic_well(0.5), schedule=schedules.GeometricSchedule(0.01, 2.0),
      optimizer=optax.adam(1e-3), corrector_optimizer=optax.adam(1e-3),
      sample_prior=asbs_training.gaussian_prior([0.0, 0.0], [1.0, 1.0]), max_adjoint_norm=None,
      num_paths=N, num_steps=4, inner_steps=2, batch_size=N, buffer_capacity=2 * N)
  phase = jnp.asarray(asbs_training.Phase.ADJOINT, jnp.int32)
  return asbs_training.asbs_sampler, sampler, (jax.random.key(0),), (phase,)


def _ddpm():
  algorithm = nakkiran_ddpm.ddpm_training(
      network=mlp.FourierTimeMLP((8,), 1, 2), setup=nakkiran_ddpm.DiffusionSetup(1.0, 1.0, 0.1),
      optimizer=optax.adam(1e-3), steps_per_epoch=2, batch_size=N, num_monitor=N,
      start="exact")
  return nakkiran_ddpm.ddpm_training, algorithm, (jax.random.key(0),), ()


def _reward_predictor():
  schedule = ddpm.linear_schedule(20)
  algorithm = predictor.reward_predictor(
      network=predictor.ResConvNet(4, 1), optimizer=optax.adam(1e-3), schedule=schedule,
      timesteps=ddpm.ddim_timesteps(4, schedule.num_steps))
  images = jax.random.uniform(jax.random.key(1), (N, 64), minval=-1.0, maxval=1.0)
  return predictor.reward_predictor, algorithm, (jax.random.key(0),), (images, jnp.ones(N))


def _guided_sampler():
  schedule = ddpm.linear_schedule(20)
  sampler = guidance.guided_ddim(
      eps_fn=lambda x, t: 0.1 * x, predictor_apply=lambda weights, x: jnp.tanh(x) @ weights,
      schedule=schedule, timesteps=ddpm.ddim_timesteps(4, schedule.num_steps), dim=3)
  params = guidance.GuidanceParams(jnp.ones(3), jnp.float32(1.0), jnp.float32(2.0))
  return guidance.guided_ddim, sampler, (jax.random.key(0), N), (params,)


BUILDERS = {"implicit_diffusion": _implicit_diffusion, "dikl": _dikl, "dxmi": _dxmi,
            "adjoint_sampling": _adjoint_sampling, "asbs": _asbs, "ddpm": _ddpm,
            "reward_predictor": _reward_predictor, "guided_sampler": _guided_sampler}


def _is_named_tuple_of_arrays(tree) -> bool:
  leaves = jax.tree.leaves(tree)
  return (isinstance(tree, tuple) and hasattr(tree, "_fields")
          and all(isinstance(leaf, jax.Array) for leaf in leaves))


def _layout(tree):
  return jax.tree.structure(tree), [(leaf.shape, leaf.dtype) for leaf in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", BUILDERS)
def test_init_and_two_jitted_steps_keep_the_state_structure(name):
  _, algorithm, init_args, batch = BUILDERS[name]()
  assert isinstance(algorithm, (types.Algorithm, types.Sampler))
  state = algorithm.init(*init_args)
  step = jax.jit(algorithm.step)
  infos = []
  for i in range(2):
    new_state, info = step(jax.random.key(10 + i), state, *batch)
    assert _is_named_tuple_of_arrays(new_state) and _is_named_tuple_of_arrays(info)
    assert _layout(new_state) == _layout(state)
    state = new_state
    infos.append(info)
  assert _layout(infos[0]) == _layout(infos[1])


@pytest.mark.parametrize("name", BUILDERS)
def test_no_factory_takes_a_configuration(name):
  factory = BUILDERS[name]()[0]
  for parameter in inspect.signature(factory).parameters.values():
    assert parameter.kind in (parameter.KEYWORD_ONLY, parameter.VAR_KEYWORD), parameter.name
    assert parameter.name != "config" and "ConfigDict" not in str(parameter.annotation)
  assert "ml_collections" not in inspect.getsource(inspect.getmodule(factory))

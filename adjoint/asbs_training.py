"""Adjoint Schrödinger Bridge Sampler (Liu et al. 2025, "Adjoint Schrödinger Bridge Sampler").

ASBS keeps the controlled SDE of Adjoint Sampling but starts from a prior X₀ ~ μ that need not be
a point. The terminal cost then involves the unknown SB potential φ̂₁, learned as a corrector
h_φ ≈ ∇log φ̂₁ by alternating two regressions (Liu et al. 2025, Alg. 1, eqs. 13–14):

  adjoint matching:   the Reciprocal Adjoint Matching of ``adjoint.adjoint_matching`` with
                      a = clip(∇E(X₁)) + h_φ(X₁), evaluated when the sample enters the buffer,
                      on the two-sided bridge between X₀ and X₁;
  corrector matching: h_φ = argmin E ½‖h(X₁) + (X₁ − X₀)/σ̄²‖² over fresh paths (X₀, X₁) of the
                      current control, i.e. h(x) = E[∇_{x₁} log p^base(X₁ | X₀) | X₁ = x].

The first stage has no corrector (h ≡ 0), switched by the phase: h_φ already starts at 0 through
its zero output layer (``common.networks.mlp.FourierTimeMLP``; the EGNN of particle systems
starts near 0), but the switch keeps stage 0 independent of the initialisation. With a point prior at 0 the corrector converges to −x/σ̄² and
ASBS reduces to Adjoint Sampling.

``asbs_sampler`` is one ``common.types.Sampler`` whose state holds the control and the corrector
and whose ``step(key, state, phase)`` is an epoch of the phase named by ``phase`` (an array, so
one compilation serves every phase); ``train`` runs the stages' phases in turn with the one
driver.
"""

import enum
from typing import Any, Callable, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
import orbax.checkpoint as ocp

from adjoint import adjoint_matching
from adjoint import adjoint_sampling
from adjoint import clipping
from adjoint import controlled_sde
from adjoint import particles
from adjoint import schedules
from common import types
from common.infra import parallel
from common.kernels import sde
from common.networks import mlp
from common.targets import benchmarks
from common.training import checkpoint
from common.training import driver

PRIORS = ("gaussian", "dirac")


class Phase(enum.IntEnum):
  """What one ASBS epoch trains."""
  FIRST_ADJOINT = 0  # adjoint matching of stage 1, without the corrector (h ≡ 0)
  ADJOINT = 1  # adjoint matching with a = clip(∇E) + h_φ
  CORRECTOR = 2  # corrector matching


class CorrectorState(NamedTuple):
  params: Any
  opt_state: optax.OptState


class ASBSState(NamedTuple):
  control: adjoint_matching.AdjointMatchingState
  corrector: CorrectorState


def corrector_loss(params: Any, apply_fn, schedule, x0: jax.Array, x1: jax.Array) -> jax.Array:
  """½ E‖h_φ(X₁) + (X₁ − X₀)/σ̄²‖²."""
  residual = apply_fn(params, x1) + (x1 - x0) / schedule.terminal_variance
  return jnp.mean(0.5 * jnp.sum(residual**2, axis=-1))


def corrector_matching(
    *,
    corrector_apply: Callable[[Any, jax.Array], jax.Array],
    control_apply: controlled_sde.ScaledControlFn,
    schedule: schedules.GeometricSchedule,
    optimizer: optax.GradientTransformation,
    sample_prior: adjoint_matching.PriorSampler,
    num_paths: int,
    num_steps: int,
    inner_steps: int,
    batch_size: int,
    observe: Callable[[jax.Array], jax.Array] = lambda x: x,
    project: controlled_sde.Projection | None = None,
) -> types.Algorithm:
  """Corrector matching by epochs: ``init(params) -> CorrectorState`` and
  ``step(key, state, control_params) -> (state, MatchingInfo)`` (Liu et al. 2025, eq. 14).

  Each epoch simulates ``num_paths`` fresh paths of the current control (projected by
  ``project``, as in ``controlled_sde.simulate``) and takes ``inner_steps`` optimiser steps on
  minibatches drawn from them with replacement.
  """
  loss_and_grad = jax.value_and_grad(corrector_loss)

  def init(params: Any) -> CorrectorState:
    return CorrectorState(params, optimizer.init(params))

  def step(key: jax.Array, state: CorrectorState, control_params: Any):
    key_prior, key_paths, key_train = jax.random.split(key, 3)
    x0 = sample_prior(key_prior, num_paths)
    x1 = controlled_sde.simulate(key_paths, control_apply, control_params, schedule, x0,
                                 num_steps, project)

    def optimiser_step(carry, key_batch):
      params, opt_state = carry
      rows = jax.random.randint(key_batch, (batch_size,), 0, num_paths)
      batch = parallel.shard_batch((x0[rows], x1[rows]))
      loss, grads = loss_and_grad(params, corrector_apply, schedule, *batch)
      updates, opt_state = optimizer.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(
        optimiser_step, tuple(state), jax.random.split(key_train, inner_steps))
    observed = observe(x1)
    return CorrectorState(params, opt_state), adjoint_matching.MatchingInfo(
        jnp.mean(losses), jnp.mean(observed, 0), jnp.std(observed, 0))

  return types.Algorithm(init, step)


def corrector_network(*, dim: int, hidden_sizes, activation: str) -> mlp.FourierTimeMLP:
  """h_φ(x), time-independent (called with t = None)."""
  return mlp.FourierTimeMLP(tuple(hidden_sizes), dim, 0, activation)


def gaussian_prior(mean, variances) -> adjoint_matching.PriorSampler:
  """X₀ ~ N(mean, diag(variances)) (in the sampler's coordinates)."""
  mean = jnp.asarray(mean, jnp.float32)
  std = jnp.sqrt(jnp.asarray(variances, jnp.float32))
  chex.assert_equal_shape([mean, std])
  return lambda key, num: mean + std * jax.random.normal(key, (num,) + mean.shape, mean.dtype)


def make_prior(name: str, *, dim: int, mean=None, variances=None
               ) -> adjoint_matching.PriorSampler:
  """The prior ``name`` ∈ ``PRIORS``: X₀ = 0, or N(mean, diag(variances))."""
  if name == "dirac":
    return adjoint_sampling.dirac_prior(dim)
  if name == "gaussian":
    return gaussian_prior(mean, variances)
  raise ValueError(f"unknown prior {name!r}; expected one of {PRIORS}")


def clipped_energy_grad(target: benchmarks.Target, max_norm: float | None):
  """X₁ ↦ clip(∇E(X₁)): per sample, or for a particle system per particle and then centred
  (``adjoint.particles.clipped_energy_grad``)."""
  if target.n_particles > 1:
    return particles.clipped_energy_grad(target.energy, target.n_particles, max_norm)
  return lambda x1: clipping.clip_rows(sde.energy_grad(target.energy, x1), max_norm)


def corrected_adjoint(energy_grad: Callable[[jax.Array], jax.Array], corrector_apply):
  """a(X₁; φ, on) = clip(∇E(X₁)) + on · h_φ(X₁), with ``energy_grad`` the clipped ∇E."""
  def adjoint(x1, corrector_params, use_corrector):
    return energy_grad(x1) + jnp.where(use_corrector, corrector_apply(corrector_params, x1), 0.0)
  return adjoint


def asbs_sampler(
    *,
    control: nn.Module,
    corrector: nn.Module,
    target: benchmarks.Target,
    schedule: schedules.GeometricSchedule,
    optimizer: optax.GradientTransformation,
    corrector_optimizer: optax.GradientTransformation,
    sample_prior: adjoint_matching.PriorSampler,
    max_adjoint_norm: float | None,
    buffer_capacity: int,
    ema_decay: float = 0.0,
    **epoch: int,
) -> types.Sampler:
  """ASBS of ``target`` from X₀ ~ ``sample_prior`` (Liu et al. 2025, Alg. 1).

  Args:
    control: the network f_θ(t, x) = u_θ/σ.
    corrector: the network h_φ(t, x), called with t = None.
    target: sampled in its sampler coordinates; ``target.whitening`` (when set) maps the infos'
      moments and ``sample``'s draws to the target's own. A particle system
      (``target.n_particles`` > 1) is sampled with zero centre of mass and ∇E clipped per
      particle (``adjoint.particles``); its prior, control and corrector must be centred.
    schedule, max_adjoint_norm, buffer_capacity, ema_decay: as in
      ``adjoint.adjoint_matching.reciprocal_adjoint_matching``.
    optimizer: trains the control.
    corrector_optimizer: trains the corrector.
    sample_prior: draws X₀ (``make_prior``, or ``adjoint.particles.make_prior``).
    **epoch: the sizes of an epoch, the same for both phases: ``num_paths`` paths simulated,
      ``num_steps`` Euler–Maruyama steps each, ``inner_steps`` optimiser steps on batches of
      ``batch_size``.

  Returns:
    ``Sampler(init, step, sample)``: ``init(key) -> ASBSState``,
    ``step(key, state, phase) -> (state, MatchingInfo)`` with ``phase`` a ``Phase`` as an int32
    array, ``sample(key, params, n)`` with ``params`` the state's ``control.sampling_params``.
  """
  corrector_apply = lambda params, x: corrector.apply(params, None, x)
  observe = adjoint_sampling.observe_fn(target)
  project = particles.centring(target.n_particles) if target.n_particles > 1 else None
  adjoint_alg = adjoint_matching.reciprocal_adjoint_matching(
      control=control, dim=target.dim, schedule=schedule, optimizer=optimizer,
      sample_prior=sample_prior,
      terminal_adjoint=corrected_adjoint(clipped_energy_grad(target, max_adjoint_norm),
                                         corrector_apply),
      buffer_capacity=buffer_capacity, ema_decay=ema_decay, observe=observe, project=project,
      **epoch)
  corrector_alg = corrector_matching(
      corrector_apply=corrector_apply, control_apply=control.apply, schedule=schedule,
      optimizer=corrector_optimizer, sample_prior=sample_prior, observe=observe,
      project=project, **epoch)

  def init(key: jax.Array) -> ASBSState:
    key_control, key_corrector = jax.random.split(key)
    corrector_params = corrector.init(key_corrector, None, jnp.zeros((1, target.dim)))
    return ASBSState(adjoint_alg.init(key_control), corrector_alg.init(corrector_params))

  def adjoint_epoch(key, state, phase):
    control_state, info = adjoint_alg.step(
        key, state.control, state.corrector.params, phase == Phase.ADJOINT)
    return ASBSState(control_state, state.corrector), info

  def corrector_epoch(key, state, unused_phase):
    corrector_state, info = corrector_alg.step(
        key, state.corrector, state.control.sampling_params)
    return ASBSState(state.control, corrector_state), info

  def step(key: jax.Array, state: ASBSState, phase: jax.Array
           ) -> tuple[ASBSState, adjoint_matching.MatchingInfo]:
    return jax.lax.cond(phase == Phase.CORRECTOR, corrector_epoch, adjoint_epoch,
                        key, state, phase)

  return types.Sampler(init, step, adjoint_alg.sample)


def train(
    algorithm: types.Sampler, state: ASBSState, key: jax.Array, *, num_stages: int,
    adjoint_epochs: int, corrector_epochs: int, chunk_size: int, checkpoint_every: int,
    manager: ocp.CheckpointManager | None = None, done: int = 0,
    histories: checkpoint.History | None = None, progress: bool = True,
) -> tuple[ASBSState, checkpoint.History]:
  """``num_stages`` stages of adjoint matching then corrector matching (``common.training.driver``).

  Epochs are counted over all phases: epoch i draws with ``fold_in(key, i)``, checkpoints are
  numbered by it, and a run resumed at ``done`` (``driver.restore``) skips what it has done.

  Returns:
    ``(state, histories)``: ``adjoint_<field>`` per adjoint-matching epoch and
    ``corrector_<field>`` per corrector-matching epoch, stages in sequence.
  """
  runner = driver.make_runner(algorithm.step, key)  # one compilation for every phase
  offset = 0  # epochs of all phases before the current one
  for stage in range(num_stages):
    adjoint_phase = Phase.ADJOINT if stage else Phase.FIRST_ADJOINT
    for phase, epochs, name in ((adjoint_phase, adjoint_epochs, "adjoint"),
                                (Phase.CORRECTOR, corrector_epochs, "corrector")):
      phase_done = min(max(done - offset, 0), epochs)
      if phase_done < epochs:
        state, histories = driver.train(
            algorithm.step, state, key, num_steps=epochs, chunk_size=chunk_size,
            checkpoint_every=checkpoint_every, manager=manager, done=phase_done,
            histories=histories, args=(jnp.asarray(phase, jnp.int32),), offset=offset,
            prefix=f"{name}_", progress_fields=("loss",),
            label=f"stage {stage + 1} {name} epoch", runner=runner, progress=progress)
      offset += epochs
  return state, histories

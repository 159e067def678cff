"""Adjoint Sampling and ASBS (Havens et al. 2025, Liu et al. 2025), and a Nakkiran-style DDPM.

Public API: factories taking keyword hyperparameters, optax optimisers and flax modules, and
returning a ``common.types.Sampler`` (``init(key)``, ``step(key, state, *args)``,
``sample(key, params, n)``):

- ``adjoint_sampler(*, control, target, schedule, optimizer, max_adjoint_norm, num_paths,
  num_steps, inner_steps, batch_size, buffer_capacity, ema_decay)``: Adjoint Sampling; state
  ``AdjointMatchingState``, info ``MatchingInfo``.
- ``reciprocal_adjoint_matching(*, control, dim, schedule, optimizer, sample_prior,
  terminal_adjoint, ...)``: the Reciprocal Adjoint Matching both samplers train with.
- ``asbs_sampler(*, control, corrector, target, schedule, optimizer, corrector_optimizer,
  sample_prior, ...)``: ASBS; state ``ASBSState`` (control and corrector), ``step(key, state,
  phase)`` with ``phase`` a ``Phase``; ``train_asbs`` runs its stages with
  ``common.training.driver``.
- ``ddpm_training(*, network, setup, optimizer, steps_per_epoch, batch_size, num_monitor,
  start)``: the 1-D DDPM; state ``DDPMState``, info ``DDPMInfo``.

Particle systems (DW-4, LJ-13): the same two samplers, given a target with ``n_particles`` > 1,
sample with zero centre of mass; ``adjoint.particles`` has their equivariant networks
(``control_network``, ``corrector_network``) and priors (``make_prior``).

Entry points: ``python -m adjoint.adjoint``, ``python -m adjoint.asbs`` (2-D targets with
``--energy``, particle systems with ``--target``), ``python -m adjoint.ddpm``.
"""

from adjoint.adjoint_matching import AdjointMatchingState
from adjoint.adjoint_matching import MatchingInfo
from adjoint.adjoint_matching import reciprocal_adjoint_matching
from adjoint.adjoint_sampling import adjoint_sampler
from adjoint.asbs_training import ASBSState
from adjoint.asbs_training import Phase
from adjoint.asbs_training import asbs_sampler
from adjoint.asbs_training import train as train_asbs
from adjoint.nakkiran_ddpm import DDPMInfo
from adjoint.nakkiran_ddpm import DDPMState
from adjoint.nakkiran_ddpm import ddpm_training

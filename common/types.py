"""The one contract every algorithm of this library follows.

An algorithm is a factory taking keyword hyperparameters (plus an ``optax.GradientTransformation``
where it trains parameters, and a network's ``apply`` function or flax module where it uses one)
and returning an ``Algorithm``, or a ``Sampler`` when it also draws samples:

    sampler = dikl.dikl.dikl(generator=..., score_network=..., target_score=..., dim=2, ...)
    state = sampler.init(key)
    state, info = jax.jit(sampler.step)(key, state)        # or step(key, state, *batch)
    samples = sampler.sample(key, state.generator, 1000)    # (n, dim)

``State`` and ``Info`` are NamedTuples of arrays, so a training loop (``common.training.driver``)
can carry the state through ``jax.lax.scan`` and stack the infos step by step. Keys are never
reused: the driver gives step ``i`` the key ``jax.random.fold_in(key, i)``.
"""

from typing import Any, Callable, NamedTuple

import jax

State = Any  # a NamedTuple of arrays (PyTree), the algorithm's whole state
Info = Any  # a NamedTuple of arrays: one step's diagnostics
Params = Any  # the parameters a sampler draws with (a PyTree)

InitFn = Callable[..., State]
"""``init(key, *args) -> State``."""

StepFn = Callable[..., tuple[State, Info]]
"""``step(key, state, *batch) -> (State, Info)``: one step, pure and jit-able."""

SampleFn = Callable[[jax.Array, Params, int], jax.Array]
"""``sample(key, params, n) -> (n, dim)`` samples in the target's own coordinates."""


class Algorithm(NamedTuple):
  """An algorithm: ``init(key, ...) -> State`` and ``step(key, state, *batch) -> (State, Info)``."""
  init: InitFn
  step: StepFn


class Sampler(NamedTuple):
  """An ``Algorithm`` that also draws samples: ``sample(key, params, n) -> (n, dim)``."""
  init: InitFn
  step: StepFn
  sample: SampleFn

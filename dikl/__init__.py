"""DiKL: neural samplers trained with the reverse diffusive KL (He et al. 2025).

    import dikl

    algorithm = dikl.dikl.dikl(
        generator=my_flax_generator, score_network=my_flax_score_network,
        target_score=dikl.make_noisy_score(energy_fn), generator_optimizer=optax.adam(1e-3),
        score_optimizer=optax.adam(1e-3), dim=2, latent_dim=2, batch_size=256,
        score_batch_size=256, score_steps=10)
    state = algorithm.init(key)                           # dikl.DiKLState
    state, info = jax.jit(algorithm.step)(key, state)     # one iteration, dikl.DiKLInfo
    samples = algorithm.sample(key, state.generator_ema, 1000)

The public API:

- ``dikl.dikl.dikl``: the algorithm, a ``common.types.Sampler`` (the factory is not re-exported
  here, where its name would hide its module ``dikl.dikl``); ``DiKLState``, ``DiKLInfo``.
- ``make_noisy_score`` / ``exact_noisy_score`` (``dikl.posterior``): the target's noisy score ŝ_d.
- ``dikl.networks``: the presets' networks, ``PerConfiguration`` for per-configuration EGNNs;
  ``dikl.presets``: a configuration (``configs/dikl_<target>.py``) as the arguments above.
- ``load_generator``: a generator saved by ``python -m dikl.train``, with its ``sample``.
  He et al.'s evaluation protocol is ``common.evaluation.protocol`` (its ``DIKL_METRICS``), which
  ``python -m dikl.eval`` runs on sample files or a saved generator.
"""

from dikl import dikl
from dikl.checkpoint import load_generator
from dikl.dikl import DiKLInfo
from dikl.dikl import DiKLState
from dikl.posterior import exact_noisy_score
from dikl.posterior import make_noisy_score

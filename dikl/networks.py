"""The networks of DiKL's presets (He et al. 2025, App. D), in the conventions of ``dikl.dikl``.

MLPs for targets without particles (MoG-40, MW-32): ``MLPGenerator`` and a ``FourierTimeMLP``
score network. EGNNs for particle systems (DW-4, LJ-13), which take one configuration at a time:
``PerConfiguration`` applies them to batches, with the latent of the sample's dimension.
"""

from typing import Any, NamedTuple

import flax.linen as nn
import jax

from common.networks import egnn
from common.networks import generator as generator_lib
from common.networks import mlp
from common.targets import benchmarks as targets_lib
from dikl import dikl


class PerConfiguration(NamedTuple):
  """A flax module of one configuration, ``module(x)`` or ``module(x, t)``, as a batched
  ``dikl.dikl.Network``: ``apply(params, z)`` on (N, d), or ``apply(params, t, x)`` on (N,) and
  (N, d), the time first as the score network's convention has it. Parameters are the module's."""
  module: nn.Module

  def init(self, key: jax.Array, *batch: jax.Array) -> Any:
    return self.module.init(key, *reversed([inputs[0] for inputs in batch]))

  def apply(self, params: Any, *batch: jax.Array) -> jax.Array:
    return jax.vmap(lambda *row: self.module.apply(params, *reversed(row)))(*batch)


class Networks(NamedTuple):
  """The generator and score network of ``dikl.dikl.dikl``, and the latent's dimension."""
  generator: dikl.Network
  score_network: dikl.Network
  latent_dim: int


def make_networks(target: targets_lib.Target, *, generator_hidden: int, generator_layers: int,
                  score_hidden: int, score_layers: int, latent_dim: int,
                  output_scale: float = 1.0, num_frequencies: int = 8) -> Networks:
  """EGNNs (zero centre of mass in and out) for particle systems, MLPs otherwise.

  Args:
    target: the target (its dimension and number of particles).
    generator_hidden, generator_layers: the generator's width and depth.
    score_hidden, score_layers: the score network's width and depth.
    latent_dim: the MLP generator's latent dimension (an EGNN's is the target's).
    output_scale: the MLP generator's output scale.
    num_frequencies: the MLP score network's Fourier time features.
  """
  if target.n_particles > 1:
    return Networks(
        PerConfiguration(egnn.EGNN(target.n_particles, generator_hidden, generator_layers,
                                   output="positions")),
        PerConfiguration(egnn.EGNN(target.n_particles, score_hidden, score_layers,
                                   output="displacement")),
        target.dim)
  return Networks(
      generator_lib.MLPGenerator((generator_hidden,) * generator_layers, target.dim, output_scale),
      mlp.FourierTimeMLP((score_hidden,) * score_layers, target.dim, num_frequencies),
      latent_dim)

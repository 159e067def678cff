"""Targets and energies: energies written for one configuration, the benchmark targets.

Public API: ``Target`` (the one target type: energy, dimension, particles, exact sampler, ...),
``get_target`` and ``NAMES`` (MoG-40, MW-32, DW-4, LJ-13) from ``benchmarks``. Modules:
``energies`` (mixtures, many-well, double-well, Lennard-Jones), ``gaussian_mixture``
(full-covariance mixtures), ``particles`` (flat particle systems: centring, distances),
``whitening`` (affine changes of variables of a target).
"""

from common.targets.benchmarks import get_target
from common.targets.benchmarks import NAMES
from common.targets.benchmarks import Target

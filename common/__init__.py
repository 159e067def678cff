"""Shared core of the samplers, by concept.

Sub-packages: ``kernels`` (Langevin, MALA, SDE solvers, parallel tempering), ``targets`` (energies
and benchmark targets), ``networks`` (time MLPs, EGNN), ``diffusion`` (DDPM schedules and
samplers), ``digits`` (8×8 digits data, classifier and metrics), ``evaluation`` (sample metrics,
quadrature), ``training`` (compiled loops, checkpoints, fitting, replay buffer), ``infra`` (flags,
I/O, parallelism, plots). Command-line tools: ``python -m common.reference``, ``common.compare``,
``common.pretrain_digits``.

Modules are imported explicitly (``from common.kernels import sde``) so that an entry point pays
only for what it uses; importing ``common`` itself loads nothing heavy.
"""

"""Shared core: SDE kernels, energies and targets, quadrature, loops, entry-point helpers, plotting.

Modules are imported explicitly (``from common import sde``) so that an entry point pays only for
what it uses; importing ``common`` itself loads nothing heavy.
"""

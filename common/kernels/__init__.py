"""Sampling kernels and SDE solvers, each a ``common.types.Algorithm`` (``init``, ``step``).

Public API: ``ula``, ``mala`` (kernels), ``run_chain`` (a kernel in ``lax.scan``),
``energy_and_grad``, ``energy_grad``, ``solve_sde``, ``simulate_sde``, ``brownian_increments``
(Euler–Maruyama) from ``sde``; ``TemperingConfig``, ``sample_parallel_tempering`` (parallel-
tempering MALA for ground-truth samples) from ``tempering``.
"""

from common.kernels.sde import brownian_increments
from common.kernels.sde import energy_and_grad
from common.kernels.sde import energy_grad
from common.kernels.sde import mala
from common.kernels.sde import MALAInfo
from common.kernels.sde import MALAState
from common.kernels.sde import run_chain
from common.kernels.sde import simulate_sde
from common.kernels.sde import solve_sde
from common.kernels.sde import ula
from common.kernels.sde import ULAInfo
from common.kernels.sde import ULAState
from common.kernels.tempering import sample_parallel_tempering
from common.kernels.tempering import TemperingConfig

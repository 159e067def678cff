"""Training machinery: the one driver, compiled loops, orbax checkpoints, fitting, replay buffer.

Public API: ``train`` and ``restore`` (``driver``: any algorithm's ``step`` for N steps in
compiled chunks, with progress, checkpoints, resume and the non-finite stop), ``manager``
(``checkpoint``: a run folder's checkpoints), ``fit`` and ``minibatch_descent`` (``fitting``:
supervised minibatch training). Modules: ``loops``, ``checkpoint``, ``replay_buffer``.
"""

from common.training.checkpoint import manager
from common.training.driver import restore
from common.training.driver import train
from common.training.fitting import fit
from common.training.fitting import minibatch_descent

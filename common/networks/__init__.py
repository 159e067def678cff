"""Networks (flax.linen), used through ``init``/``apply`` on explicit parameters.

Public API: ``FourierTimeMLP`` (time-conditioned MLP, ``mlp``), ``EGNN`` (E(n)-equivariant graph
network for flat particle systems, ``egnn``), ``ResidualMLP`` (the DDPMs' ε-network,
``residual_mlp``), ``Classifier`` (``classifier``), ``MLPGenerator`` (a one-step generator,
``generator``); ``time_embedding`` holds the one time embedding all of them use.
"""

from common.networks.classifier import Classifier
from common.networks.egnn import EGNN
from common.networks.generator import MLPGenerator
from common.networks.mlp import FourierTimeMLP
from common.networks.residual_mlp import ResidualMLP

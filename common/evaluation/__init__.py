"""Evaluation of samples: the field's metrics against reference samples, deterministic expectations.

Public API:

- ``protocol``: ``evaluate`` (repeated subsamples; DiKL's W2 and TVDs, the aligned W2 and energy
  W2 of Adjoint Sampling and ASBS, iDEM's squared energy W2, mode coverage, well occupancy),
  ``floor`` (the same between two halves of the reference), ``target_metrics``;
  ``DIKL_METRICS``, ``ALL_METRICS``.
- ``metrics``: ``wasserstein2``, ``wasserstein2_1d``, ``sliced_wasserstein2``, ``histogram_tvd``,
  ``mog40_mode_fractions``.
- ``alignment``: ``aligned_wasserstein2``, ``aligned_pair_costs``, ``hungarian``.
- ``importance``: ``log_z_estimate`` (importance-weighted log Z and ESS from log-weights).
- ``report``: ``write_report`` (metrics.csv/.md/.json and histograms).
- ``quadrature``: 2-D midpoint-rule expectations.
"""

from common.evaluation.alignment import aligned_wasserstein2
from common.evaluation.importance import log_z_estimate
from common.evaluation.metrics import histogram_tvd
from common.evaluation.metrics import sliced_wasserstein2
from common.evaluation.metrics import wasserstein2
from common.evaluation.metrics import wasserstein2_1d
from common.evaluation.protocol import ALL_METRICS
from common.evaluation.protocol import DIKL_METRICS
from common.evaluation.protocol import evaluate
from common.evaluation.protocol import floor
from common.evaluation.protocol import target_metrics

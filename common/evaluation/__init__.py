"""Evaluation of samples: metrics against reference samples, deterministic expectations.

Public API: ``evaluate`` (DiKL's protocol: W2, energy and distance TVD over repeated
subsamples), ``target_metrics``, ``wasserstein2``, ``sliced_wasserstein2``, ``histogram_tvd``
from ``metrics``; ``quadrature`` (2-D midpoint-rule expectations).
"""

from common.evaluation.metrics import evaluate
from common.evaluation.metrics import histogram_tvd
from common.evaluation.metrics import sliced_wasserstein2
from common.evaluation.metrics import target_metrics
from common.evaluation.metrics import wasserstein2

"""What a training of Adjoint Sampling or ASBS costs, in target and network evaluations.

One energy evaluation is ∇E (with E) at one configuration; one model evaluation is one network
(control or corrector) applied to one configuration at one time, with or without its gradient.
Sampling after training is not counted. These are the costs a matched-budget baseline
(``python -m common.reference --energy_evaluations=...``) and a comparison of samplers use.
"""

from typing import Any, Mapping, NamedTuple


class TrainingCost(NamedTuple):
  energy_evaluations: int
  model_evaluations: int


def _epoch_model_evaluations(num_paths: int, num_steps: int, inner_steps: int,
                             batch_size: int) -> int:
  """An epoch simulates ``num_paths`` paths of ``num_steps`` control steps, then takes
  ``inner_steps`` regression steps on ``batch_size`` buffer samples."""
  return num_paths * num_steps + inner_steps * batch_size


def adjoint_sampling_cost(*, num_epochs: int, num_paths: int, num_steps: int, inner_steps: int,
                          batch_size: int) -> TrainingCost:
  """Adjoint Sampling: each epoch evaluates ∇E at its ``num_paths`` new endpoints."""
  per_epoch = _epoch_model_evaluations(num_paths, num_steps, inner_steps, batch_size)
  return TrainingCost(num_epochs * num_paths, num_epochs * per_epoch)


def asbs_cost(*, num_stages: int, adjoint_epochs: int, corrector_epochs: int, num_paths: int,
              num_steps: int, inner_steps: int, batch_size: int) -> TrainingCost:
  """ASBS: an adjoint-matching epoch is Adjoint Sampling's plus the corrector at each endpoint;
  a corrector-matching epoch simulates paths and fits the corrector, with no energy."""
  per_epoch = _epoch_model_evaluations(num_paths, num_steps, inner_steps, batch_size)
  model = num_stages * (adjoint_epochs * (per_epoch + num_paths) + corrector_epochs * per_epoch)
  return TrainingCost(num_stages * adjoint_epochs * num_paths, model)


def training_cost(method: str, config: Mapping[str, Any]) -> TrainingCost:
  """The cost of a training of ``method`` ("adjoint" or "asbs") from its configuration's fields
  (a run's ``config.json`` or its ``ConfigDict``)."""
  sizes = dict(num_paths=config["n_paths"], num_steps=config["num_steps"],
               inner_steps=config["n_inner_loop"], batch_size=config["batch_size"])
  if method == "asbs":
    return asbs_cost(num_stages=config["num_stages"], adjoint_epochs=config["adjoint_epochs"],
                     corrector_epochs=config["corrector_epochs"], **sizes)
  return adjoint_sampling_cost(num_epochs=config["num_epochs"], **sizes)

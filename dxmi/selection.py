"""The best sampler of a fine-tuning run: each evaluation scores the current sampler on the same
noise (so successive scores differ by the sampler only) and keeps it when its score is lower; the
best travels in the run's checkpoints, so a resumed run keeps it."""

from typing import Any, Callable

import jax
import numpy as np

Draw = Callable[[Any], np.ndarray]  # sampler parameters -> samples, always from the same noise
Evaluate = Callable[[np.ndarray], dict[str, float]]  # samples -> metrics


class BestSampler:
  """The lowest-``score_name`` sampler so far, with its samples and metrics, and the start's."""

  def __init__(self, draw: Draw, evaluate: Evaluate, score_name: str, start_params: Any):
    self._draw, self._evaluate, self._score_name = draw, evaluate, score_name
    self.start_samples, self.start_metrics = self._samples_and_metrics(start_params)
    self._keep(0, start_params, self.start_samples, self.start_metrics)

  def _samples_and_metrics(self, params: Any) -> tuple[np.ndarray, dict[str, float]]:
    samples = np.asarray(self._draw(params))
    return samples, self._evaluate(samples)

  def _keep(self, iteration: int, params: Any, samples: np.ndarray, metrics: dict) -> None:
    self.iteration, self.params, self.samples, self.metrics = iteration, params, samples, metrics
    self.score = float(metrics[self._score_name])

  def offer(self, iteration: int, params: Any) -> dict[str, float]:
    """Scores ``params`` (the sampler after ``iteration`` steps), keeps it if it beats the best;
    returns its metrics."""
    samples, metrics = self._samples_and_metrics(params)
    if metrics[self._score_name] < self.score:
      self._keep(iteration, jax.device_get(params), samples, metrics)
    return metrics

  def to_save(self, state: Any) -> dict[str, Any]:
    """The checkpointed tree: the training state and the best sampler so far."""
    return {"state": state, "best_params": self.params,
            "best_iteration": np.asarray(self.iteration, np.int64)}

  def restore(self, saved: dict[str, Any]) -> Any:
    """Takes the best sampler of a restored ``to_save`` tree (its samples and metrics redrawn
    from its parameters); returns the training state."""
    if int(saved["best_iteration"]) > 0:
      samples, metrics = self._samples_and_metrics(saved["best_params"])
      self._keep(int(saved["best_iteration"]), jax.device_get(saved["best_params"]), samples,
                 metrics)
    return saved["state"]

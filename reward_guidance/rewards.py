"""The ground-truth reward of the digits pipeline and its noisy labels (Yuan et al. 2023, §6).

The published code scores CIFAR-10 images with an ImageNet ResNet-18's penultimate features and a
random linear head; here a frozen digit classifier (``common.digits.metrics.Classifier``, trained
with its own seed) provides the features. Both rewards are r(x) = wᵀφ(x) + b:
  classifier: φ = the classifier's penultimate features, w, b ~ U(−1/√F, 1/√F) (the default
    initialisation of a linear layer, seeded);
  intensity: φ = the pixels, w = 1/(64 s), b = −m/s, the mean pixel intensity z-scored with its
    mean m and std s over the training digits.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common.digits import data as digits
from common.digits import models as digit_models
from common.infra import io
from common.networks import classifier

KINDS = ("classifier", "intensity")


class Reward(NamedTuple):
  """r(x) = wᵀφ(x) + b; ``classifier_params`` is None for the pixel reward."""
  kind: str
  weights: np.ndarray
  bias: float
  classifier_params: Any = None

  def __call__(self, x: jax.Array) -> jax.Array:
    """Rewards of images x (N, 64) → (N,)."""
    if self.kind == "classifier":
      x = classifier.Classifier().apply(self.classifier_params, x,
                                           method=classifier.Classifier.features)
    return x @ jnp.asarray(self.weights) + self.bias


def make_reward(kind: str, head_seed: int, classifier_params: Any,
                train_images: np.ndarray) -> Reward:
  """The reward of ``kind`` (see the module docstring)."""
  if kind == "classifier":
    feature_dim = classifier.Classifier().feature_dim
    bound = 1.0 / np.sqrt(feature_dim)
    rng = np.random.default_rng(head_seed)
    weights = rng.uniform(-bound, bound, feature_dim).astype(np.float32)
    return Reward(kind, weights, float(rng.uniform(-bound, bound)), classifier_params)
  if kind == "intensity":
    intensity = train_images.mean(axis=1)
    mean, std = float(intensity.mean()), float(intensity.std())
    weights = np.full(digits.DIM, 1.0 / (digits.DIM * std), np.float32)
    return Reward(kind, weights, -mean / std)
  raise ValueError(f"unknown reward {kind!r}; expected one of {KINDS}")


def noisy_labels(key: jax.Array, reward: Reward, images: np.ndarray,
                 noise: float) -> tuple[np.ndarray, np.ndarray]:
  """(r(x), r(x) + N(0, noise²)) for every image."""
  values = np.asarray(reward(jnp.asarray(images)), np.float32)
  labels = values + noise * np.asarray(jax.random.normal(key, values.shape), np.float32)
  return values, labels


def save(path: str, reward: Reward, head_seed: int, classifier_seed: int) -> None:
  """Writes the reward's kind, w, b and seeds as an .npz (the classifier stays in its cache)."""
  with io.atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.savez(f, kind=reward.kind, weights=reward.weights, bias=reward.bias,
             head_seed=head_seed, classifier_seed=classifier_seed)


def check_file(path: str, flag: str) -> None:
  """Checks ``path`` (given by ``--flag``) is a reward written by ``save``."""
  from common.infra import cli  # pylint: disable=g-import-not-at-top
  cli.load_npz(path, flag, ("kind", "weights", "bias", "head_seed", "classifier_seed"))


def load(path: str, model_dir: str) -> Reward:
  """The reward written by ``save``; its classifier comes from the cache in ``model_dir``."""
  with np.load(path) as spec:
    kind, weights, bias = str(spec["kind"]), spec["weights"], float(spec["bias"])
    classifier_seed = int(spec["classifier_seed"])
  classifier = (digit_models.train_or_load_classifier(model_dir, classifier_seed,
                                                      log=lambda _: None)
                if kind == "classifier" else None)
  return Reward(kind, weights, bias, classifier)

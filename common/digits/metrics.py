"""A digit classifier and the sample-quality metrics built on it, for 8×8 digits in [−1, 1].

The classifier (an MLP trained once on the 1,497 training digits) plays the role of Inception in
FID (Heusel et al. 2017): "clfFD" is the Fréchet distance between Gaussian fits of its hidden
features on generated and on real digits,

    FD = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½),

against the training images (compare N = 1,497 samples) and the test images (N = 300). With it:
the same distance on raw pixels, the entropy of the predicted-class histogram (ideal ln 10), the
mean max-softmax confidence, the memorisation ratio (median distance of a sample to its nearest
training image ÷ the same median for the test images; ≈ 1 for a model that does not copy) and
the off-manifold residual ‖(I − UUᵀ)(x − x̄)‖ outside the top principal subspace of the digits.
"""

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import spatial

from common.digits import data as digits
from common.networks.classifier import Classifier


def classifier_loss(params: Any, key: jax.Array, batch: tuple[jax.Array, jax.Array],
                    input_noise: float = 0.1) -> jax.Array:
  """Cross-entropy on images jittered by N(0, input_noise²) (a cheap regulariser)."""
  x, y = batch
  x = x + input_noise * jax.random.normal(key, x.shape, x.dtype)
  logits = Classifier().apply(params, x)
  return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


class FeatureStats(NamedTuple):
  """Mean and covariance (float64) of a feature set."""
  mean: np.ndarray
  cov: np.ndarray


def gaussian_fit(features: np.ndarray) -> FeatureStats:
  features = np.asarray(features, np.float64)
  return FeatureStats(features.mean(axis=0), np.cov(features, rowvar=False))


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
  """‖μ_a − μ_b‖² + tr Σ_a + tr Σ_b − 2 tr (Σ_a^½ Σ_b Σ_a^½)^½, by symmetric eigendecompositions.

  Both square roots are of symmetric PSD matrices, so eigh is exact up to round-off (no complex
  parts as with a general ``sqrtm``); the result is clamped at 0.
  """
  values, vectors = np.linalg.eigh(a.cov)
  root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
  cross = np.linalg.eigvalsh(root_a @ b.cov @ root_a)
  trace_root = np.sqrt(np.clip(cross, 0.0, None)).sum()
  distance = (np.sum((a.mean - b.mean) ** 2) + np.trace(a.cov) + np.trace(b.cov)
              - 2.0 * trace_root)
  return float(max(distance, 0.0))


def nearest_distances(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """Euclidean distance of each row of ``x`` to its nearest row of ``reference``."""
  return spatial.cKDTree(np.asarray(reference, np.float64)).query(np.asarray(x, np.float64))[0]


METRIC_NAMES = ("clf_fd_train", "clf_fd_test", "pixel_fd_train", "class_entropy", "confidence",
                "memorisation_ratio", "off_manifold_residual")


class Evaluator:
  """Metrics of generated digits against the fixed split, with the reference statistics cached.

  Args:
    classifier_params: parameters of ``Classifier``.
    data: the split (``digits.load()``).
    pca_dim: dimension of the principal subspace of the training digits for the residual.
  """

  def __init__(self, classifier_params: Any, data: digits.Digits, pca_dim: int = 20):
    self.params = classifier_params
    self.data = data
    model = Classifier()
    self._logits_features = jax.jit(lambda p, x: (model.apply(p, x),
                                                  model.apply(p, x, method=Classifier.features)))
    self.train_features = gaussian_fit(self.features(data.x_train))
    self.test_features = gaussian_fit(self.features(data.x_test))
    self.train_pixels = gaussian_fit(data.x_train)
    self.test_nn = np.median(nearest_distances(data.x_test, data.x_train))
    self.pixel_mean = data.x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(data.x_train - self.pixel_mean, full_matrices=False)
    self.principal = vt[:pca_dim].T  # (64, pca_dim), orthonormal columns

  def logits_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits, features = self._logits_features(self.params, jnp.asarray(x, jnp.float32))
    return np.asarray(logits, np.float64), np.asarray(features, np.float64)

  def features(self, x: np.ndarray) -> np.ndarray:
    return self.logits_and_features(x)[1]

  def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(self.logits_and_features(x)[0].argmax(axis=1) == y))

  def off_manifold_residual(self, x: np.ndarray) -> np.ndarray:
    """‖(I − UUᵀ)(x − x̄)‖ per sample, U the top principal directions of the training digits."""
    centred = np.asarray(x, np.float64) - self.pixel_mean
    return np.linalg.norm(centred - centred @ self.principal @ self.principal.T, axis=1)

  def __call__(self, samples: np.ndarray) -> Mapping[str, float]:
    """clfFD (train, test), pixel FD (train), class entropy, confidence, memorisation, residual.

    All NaN when a sample is not finite.
    """
    if not np.isfinite(samples).all():
      return dict.fromkeys(METRIC_NAMES, float("nan"))
    logits, features = self.logits_and_features(samples)
    stats = gaussian_fit(features)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    histogram = np.bincount(probs.argmax(axis=1), minlength=digits.NUM_CLASSES) / len(samples)
    nonzero = histogram[histogram > 0]
    return {
        "clf_fd_train": frechet_distance(stats, self.train_features),
        "clf_fd_test": frechet_distance(stats, self.test_features),
        "pixel_fd_train": frechet_distance(gaussian_fit(samples), self.train_pixels),
        "class_entropy": float(-np.sum(nonzero * np.log(nonzero))),
        "confidence": float(probs.max(axis=1).mean()),
        "memorisation_ratio": float(np.median(nearest_distances(samples, self.data.x_train))
                                    / self.test_nn),
        "off_manifold_residual": float(self.off_manifold_residual(samples).mean()),
    }

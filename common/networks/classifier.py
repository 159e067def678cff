"""An MLP classifier whose penultimate layer serves as a feature space for sample metrics."""

import flax.linen as nn
import jax


class Classifier(nn.Module):
  """MLP x → 256 → ``feature_dim`` (ReLU) → ``num_classes`` logits; ``features`` = the penultimate
  layer (the digits' feature space of ``common.digits.metrics``)."""
  feature_dim: int = 128
  num_classes: int = 10

  def setup(self):
    self.hidden = nn.Dense(256)
    self.penultimate = nn.Dense(self.feature_dim)
    self.head = nn.Dense(self.num_classes)

  def features(self, x: jax.Array) -> jax.Array:
    return nn.relu(self.penultimate(nn.relu(self.hidden(x))))

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.head(self.features(x))

"""The 8×8 digits of scikit-learn (``load_digits``, bundled: no download) and digit grids.

1,797 images with values 0..16, mapped to [−1, 1] by x/8 − 1 and flattened to 64 pixels, split once
(stratified by class, fixed seed) into 1,497 training and 300 test images. Shared by
``reward_guidance`` (Yuan et al. 2023) and ``dxmi`` (Yoon et al. 2024).
"""

import functools
from typing import NamedTuple, Sequence

import numpy as np

NUM_TRAIN = 1497
NUM_TEST = 300
SIDE = 8
DIM = SIDE * SIDE
NUM_CLASSES = 10
SPLIT_SEED = 0


class Digits(NamedTuple):
  """Images (N, 64) float32 in [−1, 1] and integer labels (N,) of the fixed split."""
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray


def to_unit_range(pixels: np.ndarray) -> np.ndarray:
  """0..16 grey levels to [−1, 1]: x/8 − 1."""
  return (np.asarray(pixels, np.float32) / 8.0 - 1.0).astype(np.float32)


@functools.cache
def load() -> Digits:
  """The fixed stratified 1,497/300 split (the same on every call and machine)."""
  # Imported here: scikit-learn's import costs about a second, and only this function needs it.
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  from sklearn import model_selection  # pylint: disable=g-import-not-at-top
  bunch = datasets.load_digits()
  images, labels = to_unit_range(bunch.data), bunch.target.astype(np.int32)
  x_train, x_test, y_train, y_test = model_selection.train_test_split(
      images, labels, test_size=NUM_TEST, stratify=labels, random_state=SPLIT_SEED)
  return Digits(x_train, y_train, x_test, y_test)


def plot_grid(ax, images: np.ndarray, num_cols: int, titles: Sequence[str] | None = None,
              fontsize: float = 5.0) -> None:
  """Draws (N, 64) images in [−1, 1] on one axis as a grid, optional caption under each."""
  images = np.clip(np.asarray(images).reshape(-1, SIDE, SIDE), -1.0, 1.0)
  num_rows = -(-images.shape[0] // num_cols)
  pad = 1 if titles is None else 4  # room under each image for its caption
  canvas = np.full((num_rows * (SIDE + pad), num_cols * (SIDE + 1)), np.nan)
  for i, image in enumerate(images):
    row, col = divmod(i, num_cols)
    canvas[row * (SIDE + pad):row * (SIDE + pad) + SIDE,
           col * (SIDE + 1):col * (SIDE + 1) + SIDE] = image
    if titles is not None:
      ax.text(col * (SIDE + 1) + SIDE / 2 - 0.5, row * (SIDE + pad) + SIDE + 1.2, titles[i],
              ha="center", va="center", fontsize=fontsize)
  ax.imshow(canvas, cmap="gray_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
  ax.set_axis_off()

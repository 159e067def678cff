"""Atomic output files: a run killed half-way leaves the old file or none, never a truncated one.

Each writer writes to a temporary file in the destination's folder, flushes it to disk and
renames it over the destination (``os.replace`` is atomic on POSIX within one file system).
"""

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any, Iterator, Mapping

import numpy as np

# The mode a plain open() gives a new file: mkstemp's files are 0600, which would leave every
# output readable by its owner only. The umask can only be read by setting it, and it is
# process-wide: read once here, at import, rather than around each write, where another thread
# (orbax saves checkpoints in the background) could create a file under the momentary umask 0.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path beside ``path``; renames it to ``path`` if the block succeeds.

  The file gets the mode ``open()`` would give it (0666 less the umask), not mkstemp's 0600.
  """
  folder, name = os.path.split(os.path.abspath(path))
  suffix = os.path.splitext(name)[1]  # keep the extension: savefig infers the format from it
  fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{suffix}", dir=folder)
  os.close(fd)
  try:
    yield tmp
    with open(tmp, "rb+") as f:
      os.fsync(f.fileno())
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def save_npy(path: str, array: Any) -> None:
  """``np.save`` atomically (the array is converted with ``np.asarray``)."""
  with atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.save(f, np.asarray(array))


def save_json(path: str, obj: Any) -> None:
  """Writes ``obj`` as indented JSON atomically; NumPy scalars and arrays become plain lists."""
  def default(o):
    if isinstance(o, (np.ndarray, np.generic)) or hasattr(o, "__array__"):
      return np.asarray(o).tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

  with atomic_path(path) as tmp, open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=default)
    f.write("\n")


def save_histories(folder: str, histories: Mapping[str, Any], suffix: str = "") -> list[str]:
  """Saves each history as ``<folder>/hist_<name><suffix>.npy``; returns the paths written."""
  paths = []
  for name, values in histories.items():
    path = os.path.join(folder, f"hist_{name}{suffix}.npy")
    save_npy(path, values)
    paths.append(path)
  return paths


def copy_file(source: str, path: str) -> None:
  """Copies ``source`` to ``path`` atomically."""
  with atomic_path(path) as tmp:
    shutil.copyfile(source, tmp)


def save_params(path: str, params: Any) -> None:
  """Writes a PyTree of arrays with flax serialisation (msgpack) atomically."""
  from flax import serialization  # pylint: disable=g-import-not-at-top
  with atomic_path(path) as tmp, open(tmp, "wb") as f:
    f.write(serialization.to_bytes(params))


def load_params(path: str, template: Any) -> Any:
  """Reads ``save_params`` output into the structure (and dtypes) of ``template``."""
  from flax import serialization  # pylint: disable=g-import-not-at-top
  with open(path, "rb") as f:
    return serialization.from_bytes(template, f.read())

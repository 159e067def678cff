"""absl entry-point helpers shared by every ``main``.

An entry point validates all of its flags first (``check``), then creates its output folder
(``make_output_dir``), delegates to library code, and writes through ``common.io`` (atomic).
``run`` turns any bad flag into one line on stderr and exit status 2: no traceback, and nothing
created, because validation comes before the folder is made. A ``RunError`` raised later (a
diverged training, ``common.checkpoint``) is one line too, with exit status 1.
"""

import importlib
import os
import sys
import threading
import time
from typing import Any, Callable, Mapping, NoReturn

from absl import app
from absl import flags
import jax
import numpy as np

from common import io
from common import parallel

USAGE_ERROR = 2
RUN_ERROR = 1


class FlagError(ValueError):
  """A flag or input failed validation; ``run`` reports it as ``error: --flag: message``."""

  def __init__(self, flag: str, message: str):
    super().__init__(f"--{flag}: {message}")
    self.flag = flag


class RunError(RuntimeError):
  """A run that cannot go on (e.g. a diverged training); ``run`` reports it as one line
  ``error: message`` and exit status 1."""


def check(condition: bool, flag: str, message: str) -> None:
  """Raises ``FlagError(flag, message)`` unless ``condition`` holds."""
  if not condition:
    raise FlagError(flag, message)


def check_batch_size(size: int, flag: str) -> None:
  """Raises ``FlagError(flag, ...)`` unless the global batch ``size`` splits evenly over the
  devices (``common.parallel``); it starts the JAX backend, so comes after ``use_all_cpu_cores``."""
  message = parallel.divisibility_error(size)
  check(message is None, flag, message or "")


def _exit_usage(message: str) -> NoReturn:
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(USAGE_ERROR)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parser, but a malformed or unknown flag costs one line, not a usage dump."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _exit_usage(str(e))


def enable_compilation_cache() -> str | None:
  """Turns on JAX's persistent compilation cache; returns its folder (None when disabled).

  A rerun of an entry point then loads its compiled loops instead of recompiling them (on the
  2-core CPU, compilation is most of a short run's wall time). The folder is
  ``$DIFFSAMPLERS_XLA_CACHE`` if set (empty disables the cache), else
  ``~/.cache/diffsamplers/xla``.
  """
  folder = os.environ.get(
      "DIFFSAMPLERS_XLA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "diffsamplers",
                                             "xla"))
  if not folder:
    return None
  jax.config.update("jax_compilation_cache_dir", folder)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
  return folder


def run(main: Callable[[list[str]], Any]) -> None:
  """``absl.app.run(main)`` with one-line errors and exit status 2 for bad flags or inputs.

  Also enables the persistent compilation cache (``enable_compilation_cache``) and, on a
  multi-host launch, joins the job (``common.parallel.initialize_distributed``).
  """

  def checked_main(argv: list[str]) -> Any:
    if len(argv) > 1:
      _exit_usage(f"unexpected positional arguments {argv[1:]}; flags are --name=value")
    try:
      return main(argv)
    except FlagError as e:
      _exit_usage(str(e))
    except RunError as e:
      print(f"error: {e}", file=sys.stderr, flush=True)
      sys.exit(RUN_ERROR)

  parallel.initialize_distributed()
  enable_compilation_cache()
  app.run(checked_main, flags_parser=_parse_flags)


def preload(*module_names: str) -> threading.Thread:
  """Imports modules in a background thread, e.g. plotting, while the main thread compiles.

  XLA compiles without holding the GIL, so on a short run matplotlib's import (~0.5 s) is
  hidden behind the compilation. A later ``import`` of the same module waits for this one.
  """
  def load():
    for name in module_names:
      importlib.import_module(name)

  thread = threading.Thread(target=load, name="preload", daemon=True)
  thread.start()
  return thread


def load_samples(path: str, flag: str, dim: int | None = None) -> np.ndarray:
  """Loads an (N, dim) float array of samples from ``path`` given by ``--flag``.

  Raises:
    FlagError: naming ``flag`` if the file is missing or unreadable, not 2-D, of the wrong
      dimension, or holds non-finite values.
  """
  check(bool(path), flag, "a path to an .npy file is required")
  check(os.path.isfile(path), flag, f"{path} does not exist")
  try:
    samples = np.load(path, allow_pickle=False)
  except (ValueError, OSError) as e:
    raise FlagError(flag, f"{path} is not a readable .npy array ({e})") from e
  check(samples.ndim == 2 and samples.shape[0] > 0, flag,
        f"{path} has shape {samples.shape}; expected (N, dim)")
  check(np.issubdtype(samples.dtype, np.number), flag, f"{path} holds {samples.dtype}, not numbers")
  if dim is not None:
    check(samples.shape[1] == dim, flag,
          f"{path} has dimension {samples.shape[1]}; the target needs {dim}")
  finite = np.isfinite(samples).all(axis=1)
  check(bool(finite.all()), flag,
        f"{path} has {int((~finite).sum())} samples with NaN or infinite values")
  return samples.astype(np.float32)


def config_file(name: str) -> str:
  """``<repository>/configs/<name>.py``: the default of an entry point's ``--config`` flag."""
  repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return os.path.join(repository, "configs", f"{name}.py")


def make_output_dir(file_path: str, expe_name: str) -> str:
  """Creates ``<file_path>/<expe_name>/`` (and parents) after checking it can be written.

  Raises:
    FlagError: naming ``file_path`` or ``expe_name`` when the folder cannot be created or written.
  """
  check(bool(file_path), "file_path", "must not be empty")
  check(bool(expe_name) and expe_name not in (".", ".."), "expe_name", "must be a folder name")
  folder = os.path.join(file_path, expe_name)
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise FlagError("expe_name", f"{folder} exists and is not a folder")
  existing = folder
  while not os.path.exists(existing):  # the deepest existing ancestor decides writability
    existing = os.path.dirname(existing) or "."
  if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
    raise FlagError("file_path", f"cannot write under {existing}")
  try:
    os.makedirs(folder, exist_ok=True)
  except OSError as e:
    raise FlagError("file_path", f"cannot create {folder}: {e.strerror}") from e
  return folder


def write_config(folder: str, config: Mapping[str, Any]) -> str:
  """Writes the resolved flags/config as ``<folder>/config.json``; returns its path."""
  path = os.path.join(folder, "config.json")
  io.save_json(path, dict(config))
  return path


def flag_values(names: list[str]) -> dict[str, Any]:
  """The current values of the named absl flags, for ``write_config``."""
  return {name: flags.FLAGS[name].value for name in names}


class Progress:
  """Prints ``step i/n`` lines with throughput and ETA; call it after each chunk of steps."""

  def __init__(self, total_steps: int, label: str = "step", stream=None):
    self.total = total_steps
    self.label = label
    self.stream = stream or sys.stdout
    self.start = time.perf_counter()

  def __call__(self, done: int, **metrics: float) -> None:
    elapsed = time.perf_counter() - self.start
    rate = done / elapsed if elapsed > 0 else float("inf")
    eta = (self.total - done) / rate if rate > 0 else 0.0
    parts = [f"{self.label} {done}/{self.total}"]
    parts += [f"{name} {float(value):.4f}" for name, value in metrics.items()]
    parts += [f"{rate:.0f} {self.label}s/s", f"ETA {eta:.1f}s"]
    print(" | ".join(parts), file=self.stream, flush=True)

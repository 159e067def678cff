"""absl entry-point helpers shared by every ``main``.

An entry point validates all of its flags first (``check``, ``check_positive``, the loaders of
input files), then creates its output folder (``make_output_dir``), delegates to library code,
and writes through ``common.infra.io`` (atomic). ``run`` turns any bad flag into one line on stderr
and exit status 2: no traceback, and nothing created, because validation comes before the folder
is made. What every entry point needs is checked by ``run`` itself: malformed values and
unknown flags (absl), ``--config`` files that do not load and ``--config.<field>`` overrides
of fields that do not exist (``define_config``), and non-finite floats (``check_parsed_flags``).
A ``RunError`` raised later (a diverged training, ``common.training.checkpoint``) is one line too, with
exit status 1.
"""

import importlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
import zipfile
from typing import Any, Callable, Mapping, NamedTuple, NoReturn, Sequence

from absl import app
from absl import flags
import jax
from ml_collections import config_flags
import numpy as np

from common.infra import io
from common.infra import parallel
from common.infra import run_folder

USAGE_ERROR = 2
RUN_ERROR = 1
# What ml_collections lets through from a bad --config file or --config.<field> override.
_CONFIG_ERRORS = (AttributeError, KeyError, OSError, SyntaxError, ImportError)
_CONFIG_FLAGS = []  # names of the flags made by define_config


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
  devices (``common.infra.parallel``); it starts the JAX backend, so comes after ``use_all_cpu_cores``."""
  message = parallel.divisibility_error(size)
  check(message is None, flag, message or "")


def _check_fields(config: Mapping[str, Any], names: Sequence[str], prefix: str,
                  holds: Callable[[float], bool], adjective: str) -> None:
  for name in names:
    value = config[name]
    is_tuple = isinstance(value, (tuple, list))
    entries = tuple(value) if is_tuple else (value,)
    check(len(entries) > 0 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   and holds(v) for v in entries), f"{prefix}.{name}",
          f"must be {'a non-empty tuple of ' + adjective + ' numbers' if is_tuple else adjective}"
          f", got {value!r}")


def check_positive(config: Mapping[str, Any], names: Sequence[str],
                   prefix: str = "config") -> None:
  """Checks each named field of ``config`` is a positive number, or a non-empty tuple of them
  (layer widths); a failure names ``--<prefix>.<field>``."""
  _check_fields(config, names, prefix, lambda v: v > 0, "positive")


def check_non_negative(config: Mapping[str, Any], names: Sequence[str],
                       prefix: str = "config") -> None:
  """``check_positive`` with zero allowed."""
  _check_fields(config, names, prefix, lambda v: v >= 0, "non-negative")


def _exit_usage(message: str) -> NoReturn:
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(USAGE_ERROR)


def _one_line(text: Any) -> str:
  return " ".join(str(text).split())


def _config_error(error: Exception) -> str:
  """The one-line report of ``error``, raised by ml_collections while loading a ``--config``
  file or applying its ``--config.<field>=`` overrides, naming the override it is about."""
  text = str(error)
  overrides = re.findall(r"^--?(?:no)?(\w+)\.([\w.]+)=?(.*)$", "\n".join(sys.argv[1:]),
                         re.MULTILINE)
  for name, path, value in overrides:
    if isinstance(error, (AttributeError, KeyError)) and any(
        re.search(rf"\b{re.escape(part)}\b", text) for part in path.split(".")):
      hint = re.search(r'Did you mean "([\w.]+)"', text)
      return (f"--{name}.{path}: not a field of the configuration"
              + (f"; did you mean {name}.{hint.group(1)}?" if hint else ""))
    if isinstance(error, (ValueError, TypeError)) and value and value in text:
      return f"--{name}.{path}: {_one_line(error)}"
  return f"--{overrides[0][0] if overrides else 'config'}: {_load_error(error)}"


def _load_error(error: Exception) -> str:
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  return f"cannot load the configuration ({type(error).__name__}: {lines[-1] if lines else ''})"


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parser, but a malformed or unknown flag costs one line, not a usage dump, and a
  request for help (absl exits 1 after printing it) exits 0."""
  try:
    return flags.FLAGS(argv)
  except SystemExit as e:
    asked = any(re.fullmatch(r"--?help(full|short)?", arg) for arg in argv[1:])
    raise SystemExit(0 if asked and e.code == 1 else e.code) from None
  except flags.Error as e:
    # A --config file that raises is reported with the traceback inside the message; its
    # last line says what went wrong.
    head, traceback, _ = str(e).partition("Traceback (most recent call last):")
    message = _one_line(head + str(e).strip().splitlines()[-1] if traceback else e)
    # absl's "flag --name=value: why" as "--name: why", like every other report.
    _exit_usage(re.sub(r"^flag --([\w.]+)=.*?: ", r"--\1: ", message, count=1))
  except _CONFIG_ERRORS as e:
    _exit_usage(_config_error(e))


def define_config(default: str, name: str = "config") -> flags.FlagHolder:
  """``config_flags.DEFINE_config_file(name, default)`` whose bad overrides cost one line.

  When ``--<name>`` itself is not on the command line, ml_collections applies the
  ``--<name>.<field>=`` overrides while defining the flag, i.e. when the entry point's module
  is imported, before ``run``: a field the configuration lacks is reported here and the
  process exits with status 2.
  """
  _CONFIG_FLAGS.append(name)
  try:
    return config_flags.DEFINE_config_file(name, default, "Configuration file (path.py[:arg]).")
  except _CONFIG_ERRORS + (ValueError, TypeError) as e:  # absl wraps these only when parsing
    _exit_usage(_config_error(e))


class RunFlags(NamedTuple):
  """The flags of every training entry point, from ``define_run_flags``."""
  file_path: flags.FlagHolder
  expe_name: flags.FlagHolder
  resume: flags.FlagHolder | None

  def folder(self) -> str:
    return os.path.join(self.file_path.value, self.expe_name.value)


def define_file_path() -> flags.FlagHolder:
  """Defines ``--file_path``, the parent folder of the experiment folders."""
  return flags.DEFINE_string("file_path", "runs", "Parent folder of the experiment folders.")


def define_run_flags(default_expe_name: str | None, resume: bool = True) -> RunFlags:
  """Defines ``--file_path``, ``--expe_name`` and (with ``resume``) ``--resume``: the one place
  they are defined. The run writes into ``<file_path>/<expe_name>/``."""
  return RunFlags(
      define_file_path(),
      flags.DEFINE_string("expe_name", default_expe_name, "Experiment folder (output subfolder)."),
      flags.DEFINE_bool("resume", False, "Continue from the latest checkpoint in "
                        "<file_path>/<expe_name>/checkpoints.") if resume else None)


def _config_leaves(value: Any, path: str):
  """(path, leaf) of a configuration, tuples and lists entered."""
  if isinstance(value, Mapping):
    for key, item in value.items():
      yield from _config_leaves(item, f"{path}.{key}")
  elif isinstance(value, (tuple, list)):
    for item in value:
      yield from _config_leaves(item, path)
  else:
    yield path, value


def check_parsed_flags() -> None:
  """Checks what every entry point needs of its parsed flags: each ``--config`` file loaded,
  and every float flag and float field of a configuration finite (an ``inf`` learning rate
  or step size passes ``> 0`` but turns a run into NaNs).

  Raises:
    FlagError: naming the flag or configuration field.
  """
  for name in list(flags.FLAGS):
    value = flags.FLAGS[name].value
    if name in _CONFIG_FLAGS:
      try:  # a file that failed to load gives a stand-in that raises on every access
        leaves = list(_config_leaves(value.to_dict(), name))
      except OSError as e:
        raise FlagError(name, _load_error(e)) from e
    else:
      leaves = [(name, value)]
    for path, value in leaves:
      check(not isinstance(value, float) or math.isfinite(value), path,
            f"must be finite, got {value}")


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


def run(main: Callable[[list[str]], Any], compilation_cache: bool = True) -> None:
  """``absl.app.run(main)`` with one-line errors and exit status 2 for bad flags or inputs.

  Before ``main``: ``check_parsed_flags`` (configurations loaded, floats finite). Also enables
  the persistent compilation cache (``enable_compilation_cache``) unless ``compilation_cache``
  is False (a benchmark that times compilation).
  On a multi-host launch it first joins the job
  (``common.infra.parallel.initialize_distributed``); an incomplete launch environment is one line and
  exit status 2 too.
  """

  def checked_main(argv: list[str]) -> Any:
    if len(argv) > 1:
      _exit_usage(f"unexpected positional arguments {argv[1:]}; flags are --name=value")
    try:
      check_parsed_flags()
      return main(argv)
    except FlagError as e:
      _exit_usage(str(e))
    except RunError as e:
      print(f"error: {e}", file=sys.stderr, flush=True)
      sys.exit(RUN_ERROR)

  # JAX reports at INFO that it looked for a TPU library; on a machine without TPUs that line is
  # noise at the top of every run. Its warnings and errors still show.
  logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
  try:
    parallel.initialize_distributed()
  except parallel.LaunchError as e:
    _exit_usage(str(e))
  if compilation_cache:
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


def load_npy(path: str, flag: str) -> np.ndarray:
  """Loads the numeric array of the .npy file ``path`` given by ``--flag``.

  Raises:
    FlagError: naming ``flag`` if the file is missing, empty, truncated or otherwise not a
      readable .npy array, or its dtype is not numeric.
  """
  check(bool(path), flag, "a path to an .npy file is required")
  check(os.path.isfile(path), flag, f"{path} does not exist")
  with open(path, "rb") as f:
    check(f.read(6) == b"\x93NUMPY", flag, f"{path} is not a .npy file")
  try:
    array = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError) as e:
    raise FlagError(flag, f"{path} is not a readable .npy array ({_one_line(e)})") from e
  check(isinstance(array, np.ndarray), flag, f"{path} is not a .npy array")
  check(np.issubdtype(array.dtype, np.number), flag, f"{path} holds {array.dtype}, not numbers")
  return array


def load_samples(path: str, flag: str, dim: int | None = None) -> np.ndarray:
  """Loads an (N, dim) float array of samples from ``path`` given by ``--flag``.

  Raises:
    FlagError: naming ``flag`` if the file is missing or unreadable, not 2-D, of the wrong
      dimension, or holds non-finite values.
  """
  samples = load_npy(path, flag)
  check(samples.ndim == 2 and samples.shape[0] > 0, flag,
        f"{path} has shape {samples.shape}; expected (N, dim)")
  if dim is not None:
    check(samples.shape[1] == dim, flag,
          f"{path} has dimension {samples.shape[1]}; the target needs {dim}")
  finite = np.isfinite(samples).all(axis=1)
  check(bool(finite.all()), flag,
        f"{path} has {int((~finite).sum())} samples with NaN or infinite values")
  return samples.astype(np.float32)


def load_array(path: str, flag: str, shape: tuple[int, ...]) -> np.ndarray:
  """Loads a finite numeric array of exactly ``shape`` from the .npy file ``path`` (``--flag``).

  Raises:
    FlagError: naming ``flag`` if the file is missing or unreadable, of another shape, or holds
      non-finite values.
  """
  array = load_npy(path, flag)
  check(array.shape == tuple(shape), flag, f"{path} has shape {array.shape}; expected {shape}")
  bad = int(np.size(array) - np.isfinite(array).sum())
  check(bad == 0, flag, f"{path} has {bad} NaN or infinite values")
  return array


def load_npz(path: str, flag: str, keys: Sequence[str] = ()) -> dict[str, np.ndarray]:
  """Reads the arrays of the .npz file ``path`` (``--flag``), which must hold ``keys``.

  Raises:
    FlagError: naming ``flag`` if the file is missing, not a readable .npz, or lacks a key.
  """
  check(os.path.isfile(path), flag, f"{path} does not exist")
  with open(path, "rb") as f:
    check(f.read(4) == b"PK\x03\x04", flag, f"{path} is not an .npz file")
  try:
    with np.load(path, allow_pickle=False) as archive:
      arrays = {name: archive[name] for name in archive.files}
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    raise FlagError(flag, f"{path} is not a readable .npz archive ({_one_line(e)})") from e
  missing = [key for key in keys if key not in arrays]
  check(not missing, flag, f"{path} lacks {missing}")
  return arrays


def load_json(path: str, flag: str, keys: Sequence[str] = ()) -> dict[str, Any]:
  """Reads the JSON object in ``path`` (``--flag``), which must hold ``keys``.

  Raises:
    FlagError: naming ``flag`` if the file is missing, not a JSON object, or lacks a key.
  """
  check(os.path.isfile(path), flag, f"{path} does not exist")
  try:
    with open(path) as f:
      content = json.load(f)
  except (ValueError, OSError) as e:
    raise FlagError(flag, f"{path} is not readable JSON ({_one_line(e)})") from e
  check(isinstance(content, dict), flag, f"{path} does not hold a JSON object")
  missing = [key for key in keys if key not in content]
  check(not missing, flag, f"{path} lacks {missing}")
  return content


def check_params_file(path: str, flag: str) -> None:
  """Checks ``path`` (``--flag``) is a parameter file written by ``io.save_params`` (msgpack)."""
  from flax import serialization  # pylint: disable=g-import-not-at-top
  check(os.path.isfile(path), flag, f"{path} does not exist")
  try:
    with open(path, "rb") as f:
      restored = serialization.msgpack_restore(f.read())
  except (ValueError, TypeError, OSError) as e:
    raise FlagError(flag, f"{path} is not a saved parameter file ({_one_line(e)})") from e
  check(isinstance(restored, dict) and bool(restored), flag,
        f"{path} is not a saved parameter file")


def config_file(name: str) -> str:
  """``<repository>/configs/<name>.py``: the default of an entry point's ``--config`` flag."""
  repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  return os.path.join(repository, "configs", f"{name}.py")


def check_folder(path: str, flag: str) -> None:
  """Checks the folder ``path`` (``--flag``) exists or can be created, and can be written.

  Raises:
    FlagError: naming ``flag`` otherwise.
  """
  check(bool(path), flag, "must not be empty")
  check(not os.path.exists(path) or os.path.isdir(path), flag,
        f"{path} exists and is not a folder")
  existing = path
  while not os.path.exists(existing):  # the deepest existing ancestor decides writability
    existing = os.path.dirname(existing) or "."
  check(os.path.isdir(existing) and os.access(existing, os.W_OK | os.X_OK), flag,
        f"cannot write under {existing}")


def make_output_dir(file_path: str, expe_name: str, flag: str | None = None) -> str:
  """Creates ``<file_path>/<expe_name>/`` (and parents) after checking it can be written, and
  holds it for this process (``common.infra.run_folder``): a run into a folder that another live
  run holds stops here, with nothing in the folder changed.

  Args:
    file_path: the parent folder.
    expe_name: the folder's name.
    flag: the flag that gave the folder when it is not ``--file_path``/``--expe_name``
      (e.g. ``save_dir``); errors then name it.

  Raises:
    FlagError: naming ``file_path`` or ``expe_name`` (or ``flag``) when the folder cannot be
      created or written, or is in use by another run.
  """
  check(bool(file_path), flag or "file_path", "must not be empty")
  check(bool(expe_name) and expe_name not in (".", ".."), flag or "expe_name",
        "must be a folder name")
  folder = os.path.join(file_path, expe_name)
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise FlagError(flag or "expe_name", f"{folder} exists and is not a folder")
  check_folder(folder, flag or "file_path")
  try:
    os.makedirs(folder, exist_ok=True)
  except OSError as e:
    raise FlagError(flag or "file_path", f"cannot create {folder}: {e.strerror}") from e
  try:
    run_folder.hold(folder)
  except run_folder.FolderInUse as e:
    raise FlagError(flag or "expe_name", str(e)) from e
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

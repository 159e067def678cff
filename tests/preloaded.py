"""Run ``python -m <module> <args>`` commands without paying each one's imports.

A short command spends about four seconds importing jax, flax, optax, SciPy and POT before it
does anything. A ``Server`` is one process that imports every library module of the project once
(which starts no XLA backend and no thread, and defines no flag: ``tests/test_layout.py`` checks
the last), then forks one child per command. The child runs the module as ``python -m`` does
(``runpy`` as ``__main__``, its own ``sys.argv``, stdout, stderr and environment, the server's
working folder) and exits with the status the command would have; its XLA backend (which reads
``XLA_FLAGS`` when the child makes its first array), compilations and threads are its own. The
variables that jax reads at import (``JAX_PLATFORMS``, ``JAX_ENABLE_X64``, ...) keep the values
the server started with.
"""

import importlib
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Finished(NamedTuple):
  returncode: int
  stdout: str
  stderr: str


class Server:
  """One preloaded process, started in the repository root with ``env``."""

  def __init__(self, env: dict[str, str] | None = None):
    self._process = subprocess.Popen([sys.executable, __file__], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

  def run(self, commands: list[list[str]], env: dict[str, str] | None = None, workers: int = 1,
          timeout: float = 300.0) -> list[Finished]:
    """Runs each ``[module, *args]`` in ``env`` (default: the server's), ``workers`` at a time;
    a command past ``timeout`` seconds is killed (return code -9)."""
    request = {"commands": commands, "env": env, "workers": workers, "timeout": timeout}
    self._process.stdin.write(json.dumps(request) + "\n")
    self._process.stdin.flush()
    answer = self._process.stdout.readline()
    if not answer:
      raise RuntimeError(f"the command server exited with status {self._process.wait()}")
    return [Finished(*row) for row in json.loads(answer)]

  def close(self) -> None:
    self._process.stdin.close()
    self._process.wait(timeout=60)


def run_modules(commands: list[list[str]], env: dict[str, str] | None = None,
                workers: int = 2, timeout: float = 300.0) -> list[Finished]:
  """Runs the commands from one new server, ``workers`` at a time."""
  server = Server(env)
  try:
    return server.run(commands, workers=workers, timeout=timeout)
  finally:
    server.close()


def _exit_status(error: SystemExit) -> int:
  if error.code is None:
    return 0
  if isinstance(error.code, int):
    return error.code
  print(error.code, file=sys.stderr)  # what the interpreter does with sys.exit("message")
  return 1


def _child(command: list[str], env: dict[str, str] | None, stdout: str, stderr: str) -> None:
  """Runs in the forked process and never returns."""
  if env is not None:
    os.environ.clear()
    os.environ.update(env)
  for fd, path in ((1, stdout), (2, stderr)):
    os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
  sys.stdin = open(os.devnull)  # pylint: disable=consider-using-with
  module, *args = command
  sys.argv = [module, *args]
  try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    status = 0
  except SystemExit as error:
    status = _exit_status(error)
  except BaseException:  # pylint: disable=broad-except
    traceback.print_exc()
    status = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)  # pylint: disable=protected-access


def _wait_all(started: dict[int, float], timeout: float) -> tuple[int, int]:
  """Waits for any child; kills those past ``timeout``. Returns (pid, exit status)."""
  while True:
    pid, raw = os.waitpid(-1, os.WNOHANG)
    if pid:
      return pid, os.waitstatus_to_exitcode(raw)
    for other, start in started.items():
      if time.monotonic() - start > timeout:
        os.kill(other, 9)
    time.sleep(0.01)


def _run_batch(commands: list[list[str]], env: dict[str, str] | None, workers: int,
               timeout: float) -> list[tuple]:
  scratch = tempfile.mkdtemp()
  files = [(os.path.join(scratch, f"{i}.out"), os.path.join(scratch, f"{i}.err"))
           for i in range(len(commands))]
  status, running, started, waiting = {}, {}, {}, list(range(len(commands)))
  while waiting or running:
    while waiting and len(running) < workers:
      i = waiting.pop(0)
      pid = os.fork()
      if pid == 0:
        _child(commands[i], env, *files[i])
      running[pid], started[pid] = i, time.monotonic()
    pid, code = _wait_all(started, timeout)
    status[running.pop(pid)] = code
    del started[pid]
  rows = []
  for i, (out, err) in enumerate(files):
    with open(out) as f_out, open(err) as f_err:
      rows.append((status[i], f_out.read(), f_err.read()))
  shutil.rmtree(scratch)
  return rows


def _serve() -> None:
  sys.path[0] = ROOT  # as for ``python -m`` run from the root; tests/ last, for test_layout
  sys.path.append(HERE)
  import test_layout  # pylint: disable=g-import-not-at-top
  for name in test_layout.LIBRARY:
    importlib.import_module(name)
  for line in sys.stdin:
    request = json.loads(line)
    rows = _run_batch(request["commands"], request["env"], request["workers"],
                      request["timeout"])
    print(json.dumps(rows), flush=True)


if __name__ == "__main__":
  _serve()

"""One run holds its output folder: a second run into a folder in use stops before touching it.

``hold(folder)`` takes an exclusive ``flock`` on ``<folder>/.lock`` for the life of the process
and writes the holder's process id and host into it. The kernel releases the lock when the
process ends, however it ends, so a lock file left by a killed run is stale by construction and
the next run takes it over; a live holder is named in the one-line refusal.
"""

import fcntl
import os
import socket

LOCK_FILE = ".lock"
_held: dict[str, int] = {}  # real folder path -> the open lock file's descriptor


class FolderInUse(Exception):
  """Another live process holds the folder; the message names it."""


def _holder(path: str) -> str:
  try:
    with open(path) as f:
      return f.read().strip() or "another process"
  except OSError:
    return "another process"


def hold(folder: str) -> None:
  """Takes ``folder`` (which must exist) for this process; a no-op when it holds it already.

  Raises:
    FolderInUse: when a live process holds it (nothing in the folder is changed).
  """
  real = os.path.realpath(folder)
  if real in _held:
    return
  path = os.path.join(real, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(fd)
    raise FolderInUse(f"{folder} is in use by {_holder(path)}; wait for it to end or choose "
                      "another folder") from None
  os.ftruncate(fd, 0)
  os.write(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
  _held[real] = fd

"""Locations of the package's default config files."""

import os

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_file(name: str) -> str:
  """``<repo>/configs/<name>.py``, the default of an entry point's ``--config``."""
  return os.path.join(_REPO_ROOT, "configs", f"{name}.py")

"""The shape of the library: command-line modules apart from library code, short functions.

A command-line module is one with an ``if __name__ == "__main__":`` block; it may define absl
flags. Every other module of the packages is library code: importing all of them in one process
defines no flag (so no two can clash), and none imports a command-line module (so no library
code lives beside flags).
"""

import ast
import re
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("common", "implicit_diffusion", "dikl", "reward_guidance", "dxmi", "adjoint", "configs")
MAX_FUNCTION_LINES = 80
MAX_MAIN_LINES = 60


def _python_files(folders):
  for folder in folders:
    for directory, _, names in os.walk(os.path.join(ROOT, folder)):
      for name in sorted(names):
        if name.endswith(".py"):
          yield os.path.relpath(os.path.join(directory, name), ROOT)


def _module(path: str) -> str:
  return path[:-3].replace(os.sep, ".").removesuffix(".__init__")


def _is_command_line(path: str) -> bool:
  with open(os.path.join(ROOT, path)) as f:
    return '__name__ == "__main__"' in f.read()


def _imported_modules(path: str) -> set[str]:
  with open(os.path.join(ROOT, path)) as f:
    tree = ast.parse(f.read())
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      names.add(node.module)
      names.update(f"{node.module}.{alias.name}" for alias in node.names)
  return names


LIBRARY = [_module(p) for p in _python_files(PACKAGES) if not _is_command_line(p)]
COMMAND_LINE = {_module(p) for p in _python_files(PACKAGES) if _is_command_line(p)}


def test_the_classification_sees_both_kinds():
  assert "common.kernels.sde" in LIBRARY and "dikl.train" in COMMAND_LINE
  assert len(LIBRARY) > 40 and len(COMMAND_LINE) >= 10


def test_every_library_module_imports_in_one_process_without_defining_a_flag():
  script = (
      "import importlib, sys\n"
      "from absl import flags\n"
      f"for name in {LIBRARY!r}:\n"
      "  importlib.import_module(name)\n"
      f"ours = [n for n in flags.FLAGS if flags.FLAGS.find_module_defining_flag(n, '')"
      f".split('.')[0] in {PACKAGES!r}]\n"
      "print(sorted(set(ours)))\n")
  done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                        timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("path", [p for p in _python_files(PACKAGES) if not _is_command_line(p)])
def test_library_code_does_not_import_a_command_line_module(path):
  imported = _imported_modules(path) & COMMAND_LINE
  assert not imported, f"{path} imports the command-line module(s) {sorted(imported)}"


def _function_lengths(path: str):
  with open(os.path.join(ROOT, path)) as f:
    tree = ast.parse(f.read())
  for node in ast.walk(tree):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_no_function_outside_tests_is_longer_than_80_lines():
  long = [f"{path}:{line} {name} ({length} lines)"
          for path in _python_files(PACKAGES + ("benchmarks",))
          for name, line, length in _function_lengths(path) if length > MAX_FUNCTION_LINES]
  assert not long, long


def test_every_main_is_short():
  long = [f"{path}:{line} main ({length} lines)"
          for path in _python_files(PACKAGES) if _is_command_line(path)
          for name, line, length in _function_lengths(path)
          if name == "main" and length > MAX_MAIN_LINES]
  assert not long, long


@pytest.mark.parametrize("name", ["file_path", "expe_name", "resume", "config"])
def test_the_shared_flags_are_defined_once_in_common(name):
  definition = re.compile(rf"""DEFINE_\w+\(\s*["']{name}["']""")
  defining = [p for p in _python_files(PACKAGES + ("benchmarks",))
              if definition.search(open(os.path.join(ROOT, p)).read())]
  assert defining in ([], [os.path.join("common", "infra", "cli.py")]), defining

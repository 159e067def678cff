"""The README's "Use it as a library" snippets run exactly as printed."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## Use it as a library"
MAX_SNIPPET_LINES = 15


def _snippets() -> list[str]:
  with open(os.path.join(ROOT, "README.md")) as f:
    text = f.read()
  start = text.index(SECTION)
  end = text.find("\n## ", start + len(SECTION))
  return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def test_the_section_holds_three_short_snippets():
  snippets = _snippets()
  assert len(snippets) == 3
  assert all(sum(1 for line in s.splitlines() if line.strip()) <= MAX_SNIPPET_LINES
             for s in snippets)


@pytest.fixture(scope="module")
def snippet_runs(tmp_path_factory) -> list[tuple[int, str, str]]:
  """Every snippet run at once, each in a folder of its own."""
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  processes = [subprocess.Popen([sys.executable, "-c", snippet],
                                cwd=tmp_path_factory.mktemp("snippet"), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for snippet in _snippets()]
  outputs = [process.communicate(timeout=600) for process in processes]
  return [(process.returncode, *output) for process, output in zip(processes, outputs)]


@pytest.mark.parametrize("index", range(3))
def test_snippet_runs_as_printed(index, snippet_runs):
  returncode, stdout, stderr = snippet_runs[index]
  assert returncode == 0, stderr[-3000:]
  assert stdout.strip(), "a snippet prints its result"

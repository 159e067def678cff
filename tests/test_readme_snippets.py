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


@pytest.mark.parametrize("index", range(3))
def test_snippet_runs_as_printed(index, tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  done = subprocess.run([sys.executable, "-c", _snippets()[index]], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip(), "a snippet prints its result"

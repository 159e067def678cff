"""The documentation a newcomer reads: its commands run, its links resolve, it speaks of the
project only."""

import glob
import os
import re

import pytest

import preloaded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
# Words about how the work was organised, which a reader of the project has no use for.
FORBIDDEN = re.compile(r"issue [0-9]|item [0-9]|the issue's|\(lead|stop [0-9]", re.I)


def _read(path: str) -> str:
  with open(path) as f:
    return f.read()


def _modules() -> list[str]:
  found = set()
  for path in DOCS:
    found.update(re.findall(r"python -m ([A-Za-z_][\w.]*)", _read(path)))
  return sorted(found)


def _relative_links() -> list[tuple[str, str]]:
  links = []
  for path in DOCS:
    for target in re.findall(r"\]\(([^)\s]+)\)", _read(path)):
      if not re.match(r"[a-z]+:|#", target):
        links.append((os.path.relpath(path, ROOT), target.split("#")[0]))
  return links


def test_the_docs_name_commands_and_links():
  assert "implicit_diffusion.main" in _modules() and "dikl.train" in _modules()
  assert len(_relative_links()) >= 6


@pytest.fixture(scope="module")
def helpfull_answers() -> dict[str, tuple[int, str]]:
  """Every documented module asked for ``--helpfull`` (``preloaded`` spares each its imports)."""
  modules = _modules()
  finished = preloaded.run_modules([[module, "--helpfull"] for module in modules])
  return {module: (done.returncode, done.stderr) for module, done in zip(modules, finished)}


@pytest.mark.parametrize("module", _modules())
def test_every_documented_module_answers_helpfull(module, helpfull_answers):
  returncode, stderr = helpfull_answers[module]
  assert returncode == 0, stderr[-2000:]


@pytest.mark.parametrize("source,target", _relative_links())
def test_every_relative_link_points_at_a_file(source, target):
  assert os.path.exists(os.path.join(ROOT, os.path.dirname(source), target)), (source, target)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: os.path.relpath(p, ROOT))
def test_the_docs_speak_of_the_project_only(path):
  found = [m.group(0) for m in FORBIDDEN.finditer(_read(path))]
  assert not found, found


def test_the_readme_is_short_and_its_table_cells_are_short():
  text = _read(DOCS[0])
  assert len(text.splitlines()) <= 220
  cells = [cell.strip() for line in text.splitlines() if line.startswith("|")
           for cell in line.strip("|").split("|")]
  assert cells and max(len(cell) for cell in cells) <= 150, max(cells, key=len)

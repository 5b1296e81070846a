"""Every notebook runs in a fresh kernel (small sizes), shows a plot, installs itself in Colab."""

import json
import os
import pathlib
import re
import sys

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, monkeypatch_module):
  """A kernel spec running this interpreter, so the notebooks see the package under test."""
  root = tmp_path_factory.mktemp("jupyter")
  spec = root / "kernels" / "indian-optax-test"
  spec.mkdir(parents=True)
  argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
  (spec / "kernel.json").write_text(
    json.dumps({"argv": argv, "display_name": "indian-optax tests", "language": "python"})
  )
  monkeypatch_module.setenv("JUPYTER_PATH", str(root))
  monkeypatch_module.setenv("INDIAN_OPTAX_NOTEBOOK_QUICK", "1")
  return "indian-optax-test"


@pytest.fixture(scope="module")
def monkeypatch_module():
  with pytest.MonkeyPatch.context() as patch:
    yield patch


def test_the_readme_links_every_notebook_and_every_link_has_one():
  readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
  linked = set(re.findall(r"\(notebooks/(\w+\.ipynb)\)", readme))
  assert linked and linked == {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_plots(path, kernel):
  notebook = nbformat.read(path, as_version=4)
  first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
  assert "pip" in first_code.source and "find_spec" in first_code.source
  # The committed notebook carries its plots, so it renders without running.
  assert any(_images(cell) for cell in notebook.cells)
  NotebookClient(
    notebook, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}}
  ).execute()
  assert sum(_images(cell) for cell in notebook.cells) >= 1
  assert os.environ["INDIAN_OPTAX_NOTEBOOK_QUICK"] == "1"


def _images(cell):
  return sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))

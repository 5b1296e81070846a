"""Sphinx configuration of the indian-optax documentation (``sphinx-build -W -b html docs OUT``)."""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import indian_optax  # noqa: E402
from indian_optax import app  # noqa: E402

project = "indian-optax"
author = "indian-optax developers"
copyright = "2026, indian-optax developers"
release = version = indian_optax.__version__

extensions = [
  "sphinx.ext.autodoc",
  "sphinx.ext.autosummary",
  "sphinx.ext.napoleon",
  "sphinx.ext.mathjax",
  "sphinx.ext.viewcode",
  "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
autosummary_generate = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
myst_enable_extensions = ["dollarmath", "colon_fence"]
# The notebooks carry their outputs; the test suite runs them, the docs only render them.
nb_execution_mode = "off"
html_theme = "alabaster"
html_title = f"indian-optax {release}"


def _documented_names() -> set[str]:
  """Every name an autosummary table of api.rst lists."""
  text = (pathlib.Path(__file__).parent / "api.rst").read_text()
  return set(re.findall(r"^\s{3,}~?([\w.]+)\s*$", text, flags=re.M))


def check_coverage(app_, *args):
  """Fails the build (a warning, with -W) on a public symbol the API reference leaves out."""
  from sphinx.util import logging

  documented = _documented_names()
  public = {f"indian_optax.{n}" for n in indian_optax.__all__}
  public |= {f"indian_optax.app.{n}" for n in app.__all__}
  # indian_optax.sweep, SweepResult and grid_points are the app's, documented there.
  aliases = {f"indian_optax.{n}" for n in indian_optax._FROM_APP}
  missing = sorted(public - aliases - documented)
  for name in missing:
    logging.getLogger(__name__).warning(f"public symbol {name} is not in the API reference")


def setup(sphinx):
  sphinx.connect("builder-inited", check_coverage)

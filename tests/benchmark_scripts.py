"""The scripts of ``benchmarks/`` as modules, for the tests that run or read them."""

import importlib.util
import pathlib

BENCHMARKS = pathlib.Path(__file__).parents[1] / "benchmarks"


def load(name):
  """``benchmarks/{name}.py`` imported as a module (the folder is no package)."""
  spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module

"""The package is a library plus an app: the optimizers never import the main job."""

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).parents[2] / "indian_optax"
LIBRARY = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__main__.py")


def module_level_imports(path):
  """The modules a file imports at its top level (not inside functions)."""
  names = []
  for node in ast.parse(path.read_text()).body:
    if isinstance(node, ast.Import):
      names += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      names.append(node.module or "")
      names += [f"{node.module}.{alias.name}" for alias in node.names]
  return names


def test_the_library_imports_nothing_of_the_app_nor_its_extras():
  forbidden = ("indian_optax.app", "flax", "matplotlib", "sklearn", "mnist1d", "tqdm")
  for path in LIBRARY:
    imported = module_level_imports(path)
    assert not [m for m in imported if m.startswith(forbidden)], path.name


def loaded_after(code, modules):
  """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
  check = f"{code}\nimport sys; print(sorted(m for m in {modules!r} if m in sys.modules))"
  result = subprocess.run(
    [sys.executable, "-c", check], capture_output=True, text=True, timeout=120
  )
  assert result.returncode == 0, result.stderr
  return result.stdout.strip()


def test_importing_the_optimizers_loads_neither_flax_nor_matplotlib():
  code = "import indian_optax; indian_optax.indian(0.1); indian_optax.innaprop(1e-3)"
  assert loaded_after(code, ("flax", "matplotlib", "sklearn", "indian_optax.app")) == "[]"


def test_the_app_uses_the_core_through_its_public_names():
  """No module of the app imports the core's private modules (``indian_optax._checks`` ...)."""
  for path in sorted((PACKAGE / "app").glob("*.py")):
    private = [m for m in module_level_imports(path) if m.startswith("indian_optax._")]
    assert private == [], (path.name, private)


def test_star_import_needs_only_the_core_dependencies():
  """Without the app extra, ``from indian_optax import *`` works (the app by name only)."""
  blocked = ("flax", "matplotlib", "sklearn", "mnist1d", "tqdm")
  code = (
    f"import sys; sys.modules.update(dict.fromkeys({blocked!r}))\n"
    "from indian_optax import *\n"
    "print(sorted(name for name in dir() if not name.startswith('_')))"
  )
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  assert "indian" in result.stdout and "innaprop" in result.stdout


def test_no_function_in_the_package_is_longer_than_60_lines_of_code():
  """Its docstring left out: an optimizer's equations and example belong there."""
  long = []
  for path in sorted(PACKAGE.rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        lines = node.end_lineno - node.lineno + 1
        if ast.get_docstring(node, clean=False) is not None:
          lines -= node.body[0].end_lineno - node.body[0].lineno + 1
        if lines > 60:
          long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
  assert long == []


def test_importing_the_package_or_the_commands_signal_handling_loads_no_jax():
  """The command installs its Ctrl-C handling before JAX is imported (a Ctrl-C in JAX's own
  import lands in a garbage-collector callback and is lost otherwise)."""
  code = "import indian_optax, indian_optax.__main__\nfrom indian_optax.app import interrupts"
  assert loaded_after(code, ("jax", "flax", "optax")) == "[]"


def test_the_lazy_names_are_the_modules_names():
  import indian_optax
  from indian_optax import _deprecated

  assert set(indian_optax._DEPRECATED) == set(_deprecated.DEPRECATED)
  for name in indian_optax.__all__:
    assert getattr(indian_optax, name) is not None


def test_the_apps_modules_import_each_other_without_a_cycle():
  """Every import counted, those inside functions too (a lazy import hides a cycle, it does
  not remove it); ``indian_optax.app`` itself is only the lazy table of its public names."""
  modules = {p.stem: p for p in (PACKAGE / "app").glob("*.py") if p.stem != "__init__"}
  graph = {}
  for name, path in modules.items():
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("indian_optax.app"):
        parts = [node.module.removeprefix("indian_optax.app").lstrip(".")]
        parts += [alias.name for alias in node.names] if not parts[0] else []
        imported |= {p.split(".")[0] for p in parts if p.split(".")[0] in modules}
    graph[name] = imported - {name}
  path, done = [], set()

  def visit(module):
    assert module not in path, " -> ".join([*path[path.index(module) :], module])
    if module in done:
      return
    path.append(module)
    for other in sorted(graph[module]):
      visit(other)
    path.pop()
    done.add(module)

  for module in sorted(graph):
    visit(module)

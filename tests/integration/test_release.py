"""The release: a wheel and an sdist that twine accepts, the wheel installs and runs outside
the checkout, the documentation builds with warnings as errors."""

import pathlib
import site
import subprocess
import sys
import venv
import zipfile

import pytest

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training

ROOT = pathlib.Path(__file__).parents[2]


def run(*argv, **kwargs):
  result = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return result


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
  dist = tmp_path / "dist"
  run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT))
  (wheel,) = dist.glob("*.whl")
  (sdist,) = dist.glob("*.tar.gz")
  run(sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist))
  with zipfile.ZipFile(wheel) as archive:  # the licence travels with the wheel, declared
    names = archive.namelist()
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    licence = archive.read(next(n for n in names if n.endswith("licenses/LICENSE"))).decode()
  assert "License-Expression: Apache-2.0" in metadata and "Apache License" in licence
  # A fresh environment whose dependencies are this one's, without this checkout.
  fresh = tmp_path / "venv"
  venv.create(fresh, with_pip=True)
  python = fresh / "bin" / "python"
  purelib = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  (pathlib.Path(purelib.stdout.strip()) / "dependencies.pth").write_text(
    "\n".join(site.getsitepackages()) + "\n"
  )
  run(str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel))
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  check = (
    "import indian_optax, indian_optax.app as app, pathlib;"
    f"assert indian_optax.__file__.startswith(r'{fresh}'), indian_optax.__file__;"
    "[getattr(indian_optax, n) for n in indian_optax.__all__];"
    "[getattr(app, n) for n in app.__all__];"
    "package = pathlib.Path(indian_optax.__file__).parent;"
    "assert (package / 'py.typed').exists() and (package / 'examples' / 'multihost.py').exists()"
  )
  run(str(python), "-c", check, cwd=elsewhere)
  out = elsewhere / "run"
  command = fresh / "bin" / "indian-optax"
  result = run(str(command), "sweep", "--epochs", "1", "--out", str(out), cwd=elsewhere)
  assert (out / "results.json").exists() and "chosen:" in result.stdout


def test_the_documentation_builds_with_warnings_as_errors(tmp_path):
  run(sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(ROOT / "docs"),
      str(tmp_path / "html"))  # fmt: skip
  assert (tmp_path / "html" / "api.html").exists()
  assert (tmp_path / "html" / "notebooks" / "03_vmap_sweep.html").exists()

"""The README's Python examples run as written, top to bottom."""

import pathlib
import re

import pytest

pytestmark = pytest.mark.slow  # builds, subprocesses, notebooks or long training

README = pathlib.Path(__file__).parents[2] / "README.md"


def test_readme_examples_run():
  blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
  assert len(blocks) >= 3
  namespace: dict = {}
  for block in blocks:
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
  assert namespace["result"].best()["final_test_accuracy"] >= 0.95
  assert namespace["final_losses"].shape == (16,)

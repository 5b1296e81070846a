"""A fuzzed command line: every drawn command ends in a complete result or one line and exit 2.

Hypothesis draws commands (sweep, train, compare, report), options and values, valid
and invalid: every list option a list of 0 to 5 values (each drawn valid or not, so lists
of different lengths meet in one grid), sizes at the edges of the data, out-of-range
fractions, unknown names, data files that are folders or not data. Each command runs
in-process on tiny data. The contract (docs/sweeps.md):

* exit 0, with a complete ``results.json`` in ``--out`` (``report``: a summary); or
* exit 2, with one line on stderr naming the culprit, nothing on stdout, and no new
  folder left behind;
* never a traceback (an exception out of ``cli.main``), never another exit status.
"""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indian_optax.app import cli

TRAIN, TEST, CLASSES = 48, 16, 3


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  """Tiny data files, good and bad, and a folder holding a finished result."""
  folder = tmp_path_factory.mktemp("fuzz_data")
  rng = np.random.default_rng(0)
  good = dict(
    x_train=rng.normal(size=(TRAIN, 5)).astype(np.float32),
    y_train=np.arange(TRAIN) % CLASSES,
    x_test=rng.normal(size=(TEST, 5)).astype(np.float32),
    y_test=np.arange(TEST) % CLASSES,
  )
  paths = {"good": folder / "good.npz", "partial": folder / "partial.npz"}
  np.savez(paths["good"], **good)
  np.savez(paths["partial"], x_train=good["x_train"], y_train=good["y_train"])
  paths["text"] = folder / "text.npz"
  paths["text"].write_text("not an archive")
  paths["folder"] = folder / "a_folder"
  paths["folder"].mkdir()
  paths["finished"] = folder / "finished"
  status = cli.main(["train", "--dataset", str(paths["good"]), "--epochs", "1",
                     "--batch-size", "8", "--out", str(paths["finished"])])  # fmt: skip
  assert status == 0
  return {name: str(path) for name, path in paths.items()}


NUMBERS = st.sampled_from(["0.5", "0.1", "1", "2", "0.3", "0.5", "0", "-1", "x", "nan", "1e400"])


@st.composite
def number_lists(draw, values=NUMBERS):
  """A comma list of 0 to 5 values (0: the empty string)."""
  return ",".join(draw(st.lists(values, min_size=0, max_size=5)))


NUMBER_LISTS = number_lists()
OPTIONS = {
  "--epochs": st.sampled_from(["1", "2", "0", "-1", "x"]),
  "--batch-size": st.sampled_from(["1", "8", "43", "44", "48", "49", "0", "y"]),
  "--val-fraction": st.sampled_from(["0", "0.1", "0.5", "0.99", "1", "-0.1", "nan", "0.001"]),
  "--select": st.sampled_from(["val_accuracy", "val_loss", "train_loss", "test_accuracy"]),
  "--seed": st.sampled_from(["0", "7", "-1", "4294967295"]),
  "--chunk": st.sampled_from(["auto", "1", "2", "0", "x"]),
  "--model": st.sampled_from(["mlp", "cnn", "resnet"]),
}
PER_COMMAND = {
  "sweep": {
    "--optimizer": st.sampled_from(["indian", "innaprop", "adam"]),
    "--alpha": NUMBER_LISTS, "--beta": NUMBER_LISTS, "--lr": NUMBER_LISTS,
    "--sigma": number_lists(st.sampled_from(["0.9", "0.99", "0", "1", "x"])),
    "--weight-decay": number_lists(st.sampled_from(["0", "0.01", "-1"])),
    "--seeds": st.sampled_from(["1", "2", "0"]),
    "--halving": st.sampled_from(["2", "3", "1", "x"]),
    "--rungs": number_lists(st.sampled_from(["1", "1", "2", "5", "1.5"])),
  },
  "train": {
    "--optimizer": st.sampled_from(["indian", "sgd", "adamw", "lion"]),
    "--alpha": NUMBER_LISTS,
    "--beta": NUMBER_LISTS,
    "--lr": NUMBER_LISTS,
  },
  "compare": {
    "--optimizers": number_lists(st.sampled_from(["indian", "sgd", "adam", "adam", "lion"])),
    "--lr": NUMBER_LISTS,
    "--seeds": st.sampled_from(["1", "2", "0"]),
  },
}  # fmt: skip
DATASETS = st.sampled_from(["good"] * 6 + ["partial", "text", "folder", "missing", "cifar"])


@st.composite
def commands(draw):
  """(argv without --out, whether the command is ``report``)."""
  command = draw(st.sampled_from(["sweep", "train", "compare", "report"]))
  if command == "report":
    return ["report", draw(st.sampled_from(["finished", "folder", "text", "missing"]))], True
  argv = [command, "--dataset", draw(DATASETS)]
  choices = {**OPTIONS, **PER_COMMAND[command]}
  for option in draw(st.lists(st.sampled_from(sorted(choices)), max_size=6, unique=True)):
    value = draw(choices[option])
    # A value that starts with "-" has to be attached (argparse's rule, said by the command).
    argv += [f"{option}={value}"] if value.startswith("-") else [option, value]
  if "--epochs" not in argv:
    argv += ["--epochs", "1"]
  if "--batch-size" not in argv:
    argv += ["--batch-size", "16"]
  return argv, False


@pytest.mark.slow
@settings(
  max_examples=60, derandomize=True, deadline=None,
  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(drawn=commands())
def test_every_command_ends_in_results_or_one_line_and_status_2(tmp_path, capsys, files, drawn):
  argv, is_report = drawn
  argv = [files.get(token, token) for token in argv]
  out = tmp_path / f"out{abs(hash(tuple(argv)))}"
  before = set(tmp_path.iterdir())
  status = cli.main(argv if is_report else [*argv, "--out", str(out)])
  stdout, stderr = capsys.readouterr()
  assert status in (0, 2), (argv, status, stderr)
  if status == 2:
    assert stderr.startswith("indian-optax: error: ") and stderr.count("\n") == 1, stderr
    assert stdout == "" and set(tmp_path.iterdir()) == before, argv
  elif not is_report:
    assert json.loads((out / "results.json").read_text())["complete"] is True


LIST_OPTIONS = {
  "sweep": {"--alpha": "0.5", "--beta": "0.1", "--lr": "0.05", "--sigma": "0.9"},
  "compare": {"--optimizers": "sgd", "--lr": "0.05"},
}


@pytest.mark.slow
@pytest.mark.parametrize("length", range(6))
@pytest.mark.parametrize(
  "command, option", [(c, o) for c, options in LIST_OPTIONS.items() for o in options]
)
def test_every_list_option_takes_every_length_from_0_to_5(tmp_path, capsys, files, command,
                                                          option, length):  # fmt: skip
  """Valid values, k of them: k = 0 is one line and exit 2, any other length a result; the
  other lists keep their default lengths, so lengths differ within one grid."""
  value = LIST_OPTIONS[command][option]
  if option == "--optimizers":
    listed = ",".join(["sgd", "adam", "momentum", "nesterov", "adagrad"][:length])
  else:
    listed = ",".join(str(float(value) * (1 - i / 10)) for i in range(length))
  argv = [command, "--dataset", files["good"], option, listed, "--epochs", "1", "--batch-size",
          "16", "--seeds", "1", "--out", str(tmp_path / "out")]  # fmt: skip
  if option == "--sigma":
    argv += ["--optimizer", "innaprop"]
  status = cli.main(argv)
  _, stderr = capsys.readouterr()
  if length == 0:
    assert status == 2 and stderr.count("\n") == 1, stderr
  else:
    assert status == 0, stderr
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    key = {"--lr": "learning_rate", "--optimizers": "optimizer"}.get(option, option[2:])
    assert len({r[key] for r in runs}) == length

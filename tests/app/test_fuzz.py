"""Fuzzed command lines: every one is a checked plan or one line naming the culprit.

``plan.parse`` is fuzzed on its own, thousands of command lines in seconds: every command,
every option of it, every list option a list of 0 to 5 values (each drawn valid or not, so
lists of different lengths meet in one grid), bad numbers, repeated options, unknown names.
Each ends in a :class:`Plan` whose grid holds the values given and whose record resumes to the
same plan, or in a one-line :class:`UsageError`; nothing else escapes. A few drawn command
lines then run end to end on tiny data (docs/sweeps.md's contract):

* exit 0, with a complete ``results.json`` in ``--out`` (``report``: a summary); or
* exit 2, with one line on stderr naming the culprit, nothing on stdout, and no new
  folder left behind;
* never a traceback (an exception out of ``cli.main``), never another exit status.
"""

import json
import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indian_optax.app import Range, cli, optimizers
from indian_optax.app.plan import Plan, Report, UsageError, parse
from indian_optax.app.results import Metadata

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
RANGES = st.sampled_from(["0.01:1", "0.1:2", "0:1", "0:1:linear", "1:0.1", "0.5", "x", "0.1:1:log",
                          "0.1,0.2", "1e-3:1e3", "0.2:0.9:linear"])  # fmt: skip
PER_COMMAND["tune"] = {
  "--optimizer": st.sampled_from(["indian", "innaprop", "adam"]),
  "--alpha": RANGES, "--beta": RANGES, "--lr": RANGES,
  "--sigma": st.sampled_from(["0.5:0.99:linear", "0.9", "1", "0.1:1"]),
  "--weight-decay": st.sampled_from(["0", "1e-4:1e-2", "-1"]),
  "--trials": st.sampled_from(["1", "8", "0", "x"]), "--batch": st.sampled_from(["1", "4", "0"]),
  "--sampler": st.sampled_from(["tpe", "random", "cmaes", "gp", "grid"]),
  "--storage": st.sampled_from(["sqlite:///x.db", "journal:x.log", "nonsense", "postgresql://h/d"]),
  "--study": st.sampled_from(["a", "b"]), "--seeds": st.sampled_from(["1", "2", "0"]),
  "--halving": st.sampled_from(["2", "3", "1"]),
}  # fmt: skip
DATASETS = st.sampled_from(["good"] * 6 + ["partial", "text", "folder", "missing", "cifar"])


@st.composite
def commands(draw, repeat=False, options=7, tune=False):
  """(argv without --out, whether the command is ``report``), data files named as in
  :func:`files`; ``repeat``: an option may come twice; at most ``options`` options."""
  command = draw(st.sampled_from(["sweep", "train", "compare", "report"] + ["tune"] * tune))
  if command == "report":
    return ["report", draw(st.sampled_from(["finished", "folder", "text", "missing"]))], True
  argv = [command, "--dataset", draw(DATASETS)]
  choices = {**OPTIONS, **PER_COMMAND[command]}
  for option in draw(
    st.lists(st.sampled_from(sorted(choices)), max_size=options, unique=not repeat)
  ):
    value = draw(choices[option])
    # A value that starts with "-" has to be attached (argparse's rule, said by the command).
    argv += [f"{option}={value}"] if value.startswith("-") else [option, value]
  if "--epochs" not in argv:
    argv += ["--epochs", "1"]
  if "--batch-size" not in argv:
    argv += ["--batch-size", "16"]
  return argv, False


@settings(max_examples=1500, derandomize=True, deadline=None)
@given(drawn=commands(repeat=True, options=4, tune=True), resume=st.booleans())
def test_every_command_line_is_a_checked_plan_or_one_line(drawn, resume):
  argv, is_report = drawn
  argv = ["digits" if token == "good" else token for token in argv]
  argv = argv if is_report else [*argv, "--out", "x"] + ["--resume"] * resume
  try:
    plan = parse(argv)
  except UsageError as error:
    assert str(error) and "\n" not in str(error), argv
    assert str(error).startswith(
      ("--", "choose a command", "invalid choice", "unrecognized arguments")
    ), str(error)
    return
  if isinstance(plan, Report):
    return
  for sweep in plan.sweeps:  # the values given, once each, in the order given
    for hyperparameter, values in sweep.grid.items():
      option = "--" + optimizers.OPTION_NAMES[hyperparameter].replace("_", "-")
      if option not in argv or plan.command == "train":
        continue
      text = argv[argv.index(option) + 1]
      if plan.command == "tune":  # a range LOW:HIGH[:scale], log-uniform unless linear
        low, high, *scale = text.split(":") if ":" in text else (text, None)
        wanted = float(low) if high is None else Range(float(low), float(high), scale != ["linear"])
        assert plan.space[hyperparameter] == wanted, argv
      else:
        assert values == tuple(dict.fromkeys(float(v) for v in text.split(","))), argv
  record = json.loads(json.dumps(plan.record()))  # what results.json keeps
  meta = Metadata(plan.command, plan.options.dataset, "mlp", plan.arguments, record)
  if plan.halving is None and plan.options.model in (None, "mlp"):
    resumed = plan.resumed(meta, pathlib.Path("x"))
    assert resumed.sweeps == plan.sweeps and resumed.options.seed_list == plan.seeds, argv
    assert resumed.record() == plan.record() | {"model": "mlp"}, argv


LIST_OPTIONS = {
  "sweep": {"--alpha": "0.5", "--beta": "0.1", "--lr": "0.05", "--sigma": "0.9"},
  "compare": {"--optimizers": "sgd", "--lr": "0.05"},
}


@pytest.mark.parametrize("length", range(6))
@pytest.mark.parametrize(
  "command, option", [(c, o) for c, options in LIST_OPTIONS.items() for o in options]
)
def test_every_list_option_takes_every_length_from_0_to_5(command, option, length):
  """Valid values, k of them: k = 0 is one line, any other length k values in the grid; the
  other lists keep their default lengths, so lengths differ within one grid."""
  if option == "--optimizers":
    listed = ",".join(["sgd", "adam", "momentum", "nesterov", "adagrad"][:length])
  else:
    value = float(LIST_OPTIONS[command][option])
    listed = ",".join(str(value * (1 - i / 10)) for i in range(length))
  argv = [command, option, listed] + ["--optimizer", "innaprop"] * (option == "--sigma")
  if length == 0:
    with pytest.raises(UsageError, match=f"^{option}: "):
      parse(argv)
    return
  plan = parse(argv)
  assert isinstance(plan, Plan)
  if option == "--optimizers":
    assert len(plan.sweeps) == length
  else:
    hyperparameter = optimizers.HYPERPARAMETERS[option[2:].replace("-", "_")]
    assert all(len(sweep.grid[hyperparameter]) == length for sweep in plan.sweeps)


@pytest.mark.slow
@settings(
  max_examples=8, derandomize=True, deadline=None,
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

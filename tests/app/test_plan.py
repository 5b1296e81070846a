"""The command line parsed into a typed Plan: values, defaults, every check once, the record
that --resume compares as values."""

import pathlib

import pytest

from indian_optax.app import optimizers
from indian_optax.app.plan import Plan, Report, UsageError, parse, parser
from indian_optax.app.results import Metadata


def plan(*argv) -> Plan:
  parsed = parse(list(argv))
  assert isinstance(parsed, Plan)
  return parsed


def test_values_are_typed_and_defaults_filled_in():
  p = plan("sweep", "--alpha", "0.5,1", "--lr", "0.03,0.1,0.3", "--seeds", "3", "--out", "runs/x")
  assert p.options["alpha"] == (0.5, 1.0) and p.options["lr"] == (0.03, 0.1, 0.3)
  assert (
    p.options["epochs"] == 15 and p.options["batch_size"] == 64 and p.options["chunk"] == "auto"
  )
  assert p.seeds == [0, 1, 2] and p.out == pathlib.Path("runs/x") and p.halving is None
  assert p.given == {"alpha", "lr", "seeds"}
  (sweep,) = p.sweeps
  assert sweep.name == "indian" and sweep.static == {"weight_decay": None}
  assert sweep.grid == {"alpha": (0.5, 1.0), "beta": (0.01, 0.1, 0.5, 1.0),
                        "learning_rate": (0.03, 0.1, 0.3)}  # fmt: skip


def test_lists_of_different_lengths_make_a_grid_not_an_error():
  """The README's sweep: 4 x 4 x 3, once a traceback (whole lists multiplied together)."""
  p = plan("sweep", "--alpha", "0.1,0.5,1,2", "--beta", "0.01,0.1,0.5,1", "--lr", "0.03,0.1,0.3",
           "--seeds", "3")  # fmt: skip
  assert p.sweeps[0].settings == 48 and len(p.seeds) == 3


def test_each_value_is_checked_on_its_own_and_named():
  with pytest.raises(UsageError, match=r"^--beta: must be > 0, got 0$"):
    parse(["sweep", "--alpha", "0.1,0.5,1,2", "--beta", "0.01,0", "--lr", "0.03,0.1,0.3"])
  with pytest.raises(UsageError, match=r"^--lr: must be >= 0, got -0.1$"):
    parse(["sweep", "--alpha", "0.1,0.5", "--lr=0.3,-0.1,0.2"])


def test_duplicated_values_run_once():
  p = plan("sweep", "--alpha", "0.5,0.5,1", "--beta", "0.1")
  assert p.sweeps[0].grid["alpha"] == (0.5, 1.0)
  assert plan("compare", "--optimizers", "adam,adam").options["optimizers"] == ("adam",)


def test_halving_resolves_its_rungs():
  p = plan("sweep", "--epochs", "12", "--halving", "3")
  assert (p.halving.eta, p.halving.rungs) == (3.0, (1, 4))
  assert plan("sweep", "--epochs", "12", "--halving", "2", "--rungs", "6,3").halving.rungs == (3, 6)


def test_compare_and_train_plan_their_sweeps():
  compare = plan("compare", "--optimizers", "indian,sgd", "--lr", "0.01,0.1")
  assert [s.name for s in compare.sweeps] == ["indian", "sgd"] and compare.seeds == [0, 1, 2]
  assert compare.sweeps[0].grid == {"alpha": (0.5,), "beta": (0.1,), "learning_rate": (0.01, 0.1)}
  assert compare.sweeps[1].grid == {"learning_rate": (0.01, 0.1)}
  train = plan("train", "--optimizer", "adamw", "--lr", "0.003")
  assert train.sweeps[0].grid == {"learning_rate": (0.003,)}
  default_lr = optimizers.DEFAULT_LEARNING_RATES["indian"]
  grid = {"alpha": (0.5,), "beta": (0.1,), "learning_rate": (default_lr,)}
  assert plan("train").sweeps[0].grid == grid


def test_report_names_a_folder():
  assert parse(["report", "somewhere"]) == Report(pathlib.Path("somewhere"))


def recorded(original: Plan, model: str = "mlp") -> Metadata:
  """What the command writes into results.json of a run of ``original``."""
  options = original.record() | {"model": model}
  return Metadata(original.command, original.options["dataset"], model, original.arguments, options)


def test_the_record_is_json_and_the_resumed_plan_equals_the_recorded_one(tmp_path):
  original = plan("sweep", "--alpha", "0.5,1", "--beta", "0.1", "--seeds", "2", "--epochs", "2",
                  "--val-fraction", "0.2", "--select", "train_loss", "--chunk", "2")  # fmt: skip
  record = original.record()
  assert record["alpha"] == [0.5, 1.0] and record["chunk"] == 2 and record["seeds"] == 2
  assert record["lr"] == [optimizers.DEFAULT_LEARNING_RATES["indian"]], "defaults as values"
  bare = plan("sweep", "--resume", "--out", str(tmp_path))
  resumed = bare.resumed(recorded(original), tmp_path)
  assert resumed.sweeps == original.sweeps and resumed.epochs == 2 and resumed.seeds == [0, 1]
  assert resumed.arguments == original.arguments, "the interrupted command line is kept"
  assert resumed.resume and resumed.out == tmp_path
  same = plan("sweep", "--alpha", "0.5,1.0", "--epochs", "2", "--resume", "--out", str(tmp_path))
  assert same.resumed(recorded(original), tmp_path).sweeps == original.sweeps, "values, not text"


def test_a_resume_may_repeat_the_defaults_it_ran_with(tmp_path):
  original = plan("sweep", "--epochs", "2")
  lr = str(optimizers.DEFAULT_LEARNING_RATES["indian"])
  alphas = ",".join(str(a) for a in optimizers.SWEEP_GRIDS["indian"]["alpha"])
  again = plan("sweep", "--epochs", "2", "--model", "mlp", "--lr", lr, "--alpha", alphas,
               "--resume", "--out", str(tmp_path))  # fmt: skip
  assert again.resumed(recorded(original), tmp_path).sweeps == original.sweeps


def test_a_resume_with_other_values_names_the_option():
  record = recorded(plan("sweep", "--alpha", "0.5,1", "--epochs", "2"))
  other = plan("sweep", "--alpha", "0.5,2", "--resume", "--out", "x")
  message = "--alpha: 0.5,2 differs from 0.5,1 recorded in 'x'; --resume needs the arguments"
  with pytest.raises(UsageError, match="^" + message):
    other.resumed(record, pathlib.Path("x"))
  with pytest.raises(UsageError, match="^--model: cnn differs from mlp recorded"):
    plan("sweep", "--model", "cnn", "--resume", "--out", "x").resumed(record, pathlib.Path("x"))


def test_records_of_the_last_release_resume_too():
  """Format 3 files of 0.2 recorded lists as the comma strings given, defaults as null."""
  options = {"alpha": "0.5,1", "beta": None, "epochs": 2, "seeds": 1, "optimizer": "indian",
             "chunk": "auto", "rungs": None, "halving": None, "model": None}  # fmt: skip
  record = Metadata("sweep", "digits", "mlp", ("sweep",), options)
  resumed = plan("sweep", "--resume", "--out", "x").resumed(record, pathlib.Path("x"))
  assert resumed.options["alpha"] == (0.5, 1.0) and resumed.options["epochs"] == 2


@pytest.mark.parametrize(
  "option, value",
  [("seeds", 3.0), ("seed", None), ("dataset", 5), ("chunk", 0), ("epochs", 1.5),
   ("select", "nope"), ("alpha", {"a": 1}), ("optimizer", "adam")],
)  # fmt: skip
def test_a_damaged_record_is_one_line_that_blames_the_record(option, value):
  options = recorded(plan("sweep", "--epochs", "2")).options | {option: value}
  record = Metadata("sweep", "digits", "mlp", ("sweep",), options)
  with pytest.raises(UsageError, match="^--resume: 'x' records options that cannot run: --"):
    plan("sweep", "--resume", "--out", "x").resumed(record, pathlib.Path("x"))


MISTAKES = [
  (["sweep", "--alpha", "abc"], "--alpha: 'abc' is not a number"),
  (["sweep", "--alpha", ""], "--alpha: '' is not a number"),
  (["sweep", "--beta", "0"], "--beta: must be > 0, got 0"),
  (["sweep", "--alpha", "-0.1,1"],
   "--alpha: expected a value (for a negative one write --alpha=-0.1)"),
  (["sweep", "--alpha", "-1"], "--alpha: must be >= 0, got -1"),
  (["sweep", "--alpha=-1"], "--alpha: must be >= 0, got -1"),
  (["sweep", "--lr", "nan"], "--lr: must be finite, got nan"),
  (["sweep", "--lr", "1e308"], "--lr: 1e+308 overflows float32"),
  (["sweep", "--optimizer", "innaprop", "--sigma", "1"], "--sigma: must be < 1, got 1"),
  (["sweep", "--weight-decay=-1"], "--weight-decay: must be >= 0, got -1"),
  (["sweep", "--weight-decay", "0.1,0.2"], "--weight-decay: give one value, got 2"),
  (["sweep", "--sigma", "0.9"], "--sigma: only for --optimizer innaprop, not indian"),
  (["sweep", "--optimizer", "adam"], "--optimizer: invalid choice: 'adam'"),
  (["sweep", "--seed=-1"], "--seed: must be in [0, 4294967295], got -1"),
  (["sweep", "--seed", "4294967295", "--seeds", "2"],
   "--seed: must be integers in [0, 2**32), got 4294967296"),
  (["sweep", "--seeds", "0"], "--seeds: must be in [1, 10000], got 0"),
  (["sweep", "--val-fraction", "1"], "--val-fraction: must be in [0, 1), got 1"),
  (["sweep", "--val-fraction", "0"],
   "--val-fraction: select='val_accuracy' needs a validation split (val_fraction > 0)"),
  (["sweep", "--select", "test_accuracy"], "--select: invalid choice: 'test_accuracy'"),
  (["sweep", "--force", "--resume", "--out", "x"], "--force and --resume exclude each other"),
  (["sweep", "--resume"], "--resume: name the folder to continue with --out DIR"),
  (["sweep", "--halving", "3", "--resume", "--out", "x"],
   "--resume: a --halving sweep cannot be resumed (it saves at the end)"),
  (["sweep", "--halving", "1"], "--halving: must be > 1, got 1"),
  (["sweep", "--rungs", "2"], "--rungs: only with --halving"),
  (["sweep", "--halving", "3", "--rungs", "15"],
   "--rungs: rungs must be epochs from 1 to 14 (before the last), got [15]"),
  (["sweep", "--halving", "3", "--rungs", "1", "--epochs", "1"],
   "--halving: cuts settings after an epoch before the last, and --epochs 1 has none: give "
   "--epochs 2 or more, or leave out --halving"),
  (["sweep", "--halving", "3", "--epochs", "1"], "give --epochs 2 or more, or leave out --halving"),
  (["sweep", "--halving", "3", "--rungs", "1.5"], "--rungs: rungs are whole epochs, got 1.5"),
  (["sweep", "--halving", "3", "--epochs", "2"], "--halving: 3 leaves no rung before epoch 2"),
  (["sweep", "--halving", "1e39"], "--halving: 1e+39 leaves no rung before epoch 15"),
  (["sweep", "--beta", "1e-46"],
   "--beta: must be > 0, got 0 (1e-46 is 0 in float32, the runs' precision)"),
  (["sweep", "--optimizer", "innaprop", "--sigma", "0.99999999"],
   "--sigma: must be < 1, got 1 (0.99999999 is 1 in float32"),
  (["sweep", "--seeds", "2147483647"], "--seeds: must be in [1, 10000], got 2147483647"),
  (["sweep", "--epochs", "2147483647"], "--epochs: must be in [1, 100000], got 2147483647"),
  (["sweep", "--lr=1e-2", "--lr", "0.1"], "--lr: given more than once"),
  (["sweep", "--dataset", ""], "--dataset: no data set named"),
  (["sweep", "--dataset", "cifar"], "--dataset: unknown data set 'cifar'"),
  (["sweep", "--model", "resnet"], "--model: unknown model 'resnet': use mlp or cnn"),
  (["sweep", "--epochs", "0"], "--epochs: must be in [1, 100000], got 0"),
  (["sweep", "--chunk", "some"], "--chunk: 'some' is not an integer"),
  (["sweep", "--batch-size", "x"], "--batch-size: 'x' is not an integer"),
  (["compare", "--optimizers", "adam,lion"], "--optimizers: unknown 'lion'; choose from indian"),
  (["compare", "--optimizers", "sgd", "--lr=-1"], "--lr: must be >= 0, got -1"),
  (["train", "--optimizer", "sgd", "--beta", "1"], "--alpha/--beta: sgd has no alpha or beta"),
  (["train", "--lr", "0.1,0.2"], "--lr: give one value, got 2"),
  (["frobnicate"], "invalid choice: 'frobnicate'"),
  ([], "choose a command: sweep, compare, train or report (see --help)"),
]  # fmt: skip


@pytest.mark.parametrize(
  "argv, message", MISTAKES, ids=[" ".join(a) or "none" for a, _ in MISTAKES]
)
def test_every_mistake_is_one_line_naming_the_option(argv, message):
  with pytest.raises(UsageError) as caught:
    parse(argv)
  assert message in str(caught.value) and "\n" not in str(caught.value)


def test_help_shows_the_defaults_and_no_markup(capsys):
  texts = {}
  for argv in (["--help"], ["sweep", "--help"], ["compare", "--help"], ["train", "--help"]):
    with pytest.raises(SystemExit):
      parser().parse_args(argv)
    texts[argv[0]] = " ".join(capsys.readouterr().out.split())
  assert not any("``" in text or ":func:" in text for text in texts.values())
  assert "--alpha ALPHA comma list (default: 0.1,0.5,1,2)" in texts["sweep"]
  assert "--epochs EPOCHS passes over the training set (default: 15)" in texts["sweep"]
  assert "(default: 0.001,0.003,0.01,0.03,0.1,0.3)" in texts["compare"]

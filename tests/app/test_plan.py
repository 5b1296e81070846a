"""The command line parsed into a typed Plan: values, defaults, every check once, the record
that --resume compares as values."""

import pathlib

import pytest
from mistakes import MISTAKES

from indian_optax.app import optimizers
from indian_optax.app.plan import Plan, Report, UsageError, parse, parser
from indian_optax.app.results import Metadata


def plan(*argv) -> Plan:
  parsed = parse(list(argv))
  assert isinstance(parsed, Plan)
  return parsed


def test_values_are_typed_and_defaults_filled_in():
  p = plan("sweep", "--alpha", "0.5,1", "--lr", "0.03,0.1,0.3", "--seeds", "3", "--out", "runs/x")
  assert p.options.alpha == (0.5, 1.0) and p.options.lr == (0.03, 0.1, 0.3)
  assert p.options.epochs == 15 and p.options.batch_size == 64 and p.options.chunk == "auto"
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
  assert plan("compare", "--optimizers", "adam,adam").options.optimizers == ("adam",)


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
  return Metadata(original.command, original.options.dataset, model, original.arguments, options)


def test_the_record_is_json_and_the_resumed_plan_equals_the_recorded_one(tmp_path):
  original = plan("sweep", "--alpha", "0.5,1", "--beta", "0.1", "--seeds", "2", "--epochs", "2",
                  "--val-fraction", "0.2", "--select", "train_loss", "--chunk", "2")  # fmt: skip
  record = original.record()
  assert record["alpha"] == [0.5, 1.0] and record["chunk"] == 2 and record["seeds"] == 2
  assert record["lr"] == [optimizers.DEFAULT_LEARNING_RATES["indian"]], "defaults as values"
  bare = plan("sweep", "--resume", "--out", str(tmp_path))
  resumed = bare.resumed(recorded(original), tmp_path)
  assert (
    resumed.sweeps == original.sweeps and resumed.options.epochs == 2 and resumed.seeds == [0, 1]
  )
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
  assert resumed.options.alpha == (0.5, 1.0) and resumed.options.epochs == 2


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


def test_a_halving_sweep_is_not_resumed_and_the_message_says_it_starts_over():
  halved = recorded(plan("sweep", "--epochs", "9", "--halving", "3"))
  message = (
    r"^--resume: a --halving sweep is not resumed .* again without --resume to start it over$"
  )
  with pytest.raises(UsageError, match=message):
    plan("sweep", "--resume", "--out", "x").resumed(halved, pathlib.Path("x"))
  full = recorded(plan("sweep", "--epochs", "9"))
  with pytest.raises(UsageError, match=message):
    plan("sweep", "--halving", "3", "--resume", "--out", "x").resumed(full, pathlib.Path("x"))


def test_the_record_is_read_as_json_values_not_as_text():
  """A recorded list of numbers is a list, a string is the text of 0.2's files; a number
  written as a string is not a number."""
  options = recorded(plan("sweep", "--epochs", "2")).options
  for option, value in [("epochs", "2"), ("alpha", ["0.5"]), ("halving", "3"), ("rungs", [1.0])]:
    record = Metadata("sweep", "digits", "mlp", ("sweep",), options | {option: value})
    with pytest.raises(
      UsageError, match=f"records options that cannot run: --{option}: recorded as"
    ):
      plan("sweep", "--resume", "--out", "x").resumed(record, pathlib.Path("x"))

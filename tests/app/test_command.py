"""The `indian-optax` command end to end, on tiny settings: files, folders, resumption,
interrupts, one-line mistakes, and the run it reports against the hand-written oracle."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from matplotlib import image
from mistakes import DATA_MISTAKES, MISTAKES
from oracle import hand_written_run

from indian_optax.app import SweepResult, cli, command, data, models, results_files, run_folder

TINY = ["--epochs", "2", "--batch-size", "128"]


def run(capsys, *argv):
  status = cli.main(list(argv))
  captured = capsys.readouterr()
  return status, captured.out, captured.err


def load(out):
  return json.loads((out / "results.json").read_text())


def snapshot(folder):
  return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def assert_valid_pngs(out, names):
  for name in names:
    path = out / name
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.imread(path).ndim == 3


@pytest.mark.slow
def test_sweep_writes_results_csv_plots_and_a_readable_summary(tmp_path, capsys):
  out = tmp_path / "sweep"
  status, stdout, _ = run(capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1,0.5",
                          "--seeds", "2", "--out", str(out), *TINY)  # fmt: skip
  assert status == 0
  report = load(out)
  assert sorted(p.name for p in out.iterdir()) == sorted(report["files"]), "nothing else left"
  assert (report["command"], report["dataset"], report["model"]) == ("sweep", "digits", "mlp")
  assert report["complete"] is True and report["warnings"] == []
  assert report["selection"] == {"metric": "val_accuracy", "split": "validation"}
  assert report["arguments"][:3] == ["sweep", "--alpha", "0.5,1"] and report["devices"] == 1
  runs = report["runs"]
  assert len(runs) == 8
  assert {(r["alpha"], r["beta"], r["seed"]) for r in runs} == {
    (a, b, s) for a in (0.5, 1.0) for b in (0.1, 0.5) for s in (0, 1)
  }
  for run_ in runs:
    assert run_["optimizer"] == "indian" and run_["learning_rate"] == 0.1
    assert run_["diverged_at"] is None and run_["epochs_trained"] == 2
    assert 0.0 <= run_["final_val_accuracy"] <= 1.0 and 0.0 <= run_["final_test_accuracy"] <= 1.0
    assert len(run_["history"]["val_accuracy"]) == len(run_["history"]["train_loss"]) == 2
  best = report["best"]
  means = {}
  for run_ in runs:
    means.setdefault((run_["alpha"], run_["beta"]), []).append(run_["final_val_accuracy"])
  assert np.mean(means[best["alpha"], best["beta"]]) == pytest.approx(
    max(map(np.mean, means.values()))
  )
  assert best["seeds"] == [0, 1]
  pngs = ["heatmap_val_accuracy.png", "heatmap_train_loss.png", "curves.png"]
  assert report["files"] == ["results.json", "results.csv", *pngs]
  csv_lines = (out / "results.csv").read_text().splitlines()
  assert csv_lines[0].startswith("optimizer,alpha,beta,learning_rate,seed,diverged_at")
  assert len(csv_lines) == 9
  assert_valid_pngs(out, report["files"][2:])
  assert " ± " in stdout and "showing 4 of 4 settings" in stdout
  for name in report["files"]:
    assert str(out.resolve() / name) in stdout


@pytest.mark.slow
def test_the_run_the_cli_reports_is_the_run_that_trained(tmp_path, capsys):
  out = tmp_path / "train"
  argv = ["train", "--alpha", "1", "--beta", "0.5", "--lr", "0.05", "--out", str(out), *TINY]
  assert run(capsys, *argv)[0] == 0
  (only,) = load(out)["runs"]
  assert (only["alpha"], only["beta"], only["learning_rate"]) == (1.0, 0.5, 0.05)
  digits = data.load("digits", seed=0)
  model = models.make_model("mlp", digits.sample_shape, digits.num_classes)
  setup = dict(
    init_params=model.init,
    apply_fn=model.apply,
    data=(digits.x_train, digits.y_train, digits.x_test, digits.y_test),
  )
  config = {"alpha": 1.0, "beta": 0.5, "learning_rate": 0.05, "seed": 0}
  history, final_loss = hand_written_run(config, setup, epochs=2, batch_size=128)
  np.testing.assert_allclose(only["history"]["train_loss"], history["train_loss"], rtol=2e-5)
  np.testing.assert_allclose(only["final_train_loss"], final_loss, rtol=2e-5)
  np.testing.assert_allclose(only["history"]["val_accuracy"], history["val_accuracy"], atol=0.01)


@pytest.mark.slow
def test_swept_values_are_the_values_given(tmp_path, capsys):
  out = tmp_path / "inna"
  argv = ["sweep", "--optimizer", "innaprop", "--alpha", "0.3,2", "--beta", "0.7,2"]
  argv += ["--lr", "0.001,0.004", "--sigma", "0.99", "--seeds", "2", "--chunk", "5"]
  assert run(capsys, *argv, "--out", str(out), *TINY)[0] == 0
  runs = load(out)["runs"]
  assert len(runs) == 16 and {r["seed"] for r in runs} == {0, 1}
  assert {(r["alpha"], r["beta"], r["learning_rate"], r["sigma"]) for r in runs} == {
    (a, b, lr, 0.99) for a in (0.3, 2.0) for b in (0.7, 2.0) for lr in (0.001, 0.004)
  }


@pytest.mark.slow
def test_compare_tunes_each_optimizer_on_validation(tmp_path, capsys):
  out = tmp_path / "compare"
  argv = ["compare", "--optimizers", "indian,innaprop,adamw,sgd", "--lr", "0.003,0.1"]
  status, stdout, _ = run(capsys, *argv, "--seeds", "1", "--out", str(out), *TINY)
  assert status == 0
  report = load(out)
  assert len(report["runs"]) == 4 * 2
  by_name = {r["optimizer"]: r for r in report["runs"]}
  assert "alpha" not in by_name["adamw"] or by_name["adamw"]["alpha"] is None
  assert (by_name["indian"]["alpha"], by_name["indian"]["beta"]) == (0.5, 0.1)
  assert set(report["chosen"]) == {"indian", "innaprop", "adamw", "sgd"}
  result = SweepResult.load(out)
  for name, chosen in report["chosen"].items():
    assert chosen == result.where(optimizer=name).best()
  assert_valid_pngs(out, ["curves.png"])
  assert all(name in stdout for name in ("indian", "innaprop", "adamw", "sgd"))


@pytest.mark.slow
def test_diverged_runs_are_null_and_never_best(tmp_path, capsys):
  out = tmp_path / "diverging"
  argv = ["sweep", "--alpha", "0.5", "--beta", "0.1", "--lr", "0.03,0.1,10000", "--out", str(out)]
  status, stdout, _ = run(capsys, *argv, *TINY)
  assert status == 0
  report = load(out)
  for run_ in report["runs"]:
    diverged = run_["learning_rate"] == 10000
    assert (run_["diverged_at"] is not None) == diverged
    assert (run_["final_test_accuracy"] is None) == diverged
  assert report["best"]["learning_rate"] != 10000
  assert "diverged" in stdout
  assert ",10000.0,0,1," in (out / "results.csv").read_text()


@pytest.mark.slow
def test_a_chosen_value_at_the_edge_of_its_grid_is_warned_about(tmp_path, capsys):
  out = tmp_path / "edge"
  argv = ["sweep", "--alpha", "0.5", "--beta", "0.1", "--lr", "0.001,0.003,0.01", "--out", str(out)]
  status, stdout, _ = run(capsys, *argv, *TINY)
  assert status == 0
  (warning,) = load(out)["warnings"]
  assert warning.startswith("indian: the chosen learning_rate=0.01 is the largest value tried")
  assert "extend the grid above it" in warning and f"warning: {warning}" in stdout


@pytest.mark.slow
def test_same_arguments_give_the_same_numbers(tmp_path, capsys):
  for name in ("a", "b"):
    status, _, _ = run(capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1", "--out",
                       str(tmp_path / name), *TINY)  # fmt: skip
    assert status == 0
  assert load(tmp_path / "a")["runs"] == load(tmp_path / "b")["runs"]


@pytest.mark.slow
def test_a_folder_with_results_is_refused_and_force_replaces_only_that_result_set(tmp_path, capsys):
  out = tmp_path / "kept"
  assert run(capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1", "--out", str(out), *TINY)[0] == 0
  (out / "notes.txt").write_text("mine")
  (out / "mine.png").write_bytes(b"not ours")
  before = snapshot(out)
  status, stdout, stderr = run(capsys, "train", "--out", str(out), *TINY)
  assert status == 2
  assert "already holds results" in stderr and "--force" in stderr
  assert stderr.count("\n") == 1 and stdout == ""
  assert snapshot(out) == before
  assert run(capsys, "train", "--lr", "0.05", "--out", str(out), "--force", *TINY)[0] == 0
  assert load(out)["runs"][0]["learning_rate"] == 0.05
  left = {p.name for p in out.iterdir()}
  assert {"notes.txt", "mine.png", "curves.png", "results.json", "results.csv"} <= left
  assert not {"heatmap_val_accuracy.png", "heatmap_train_loss.png"} & left


def test_a_folder_in_use_is_refused_and_left_untouched(tmp_path, capsys):
  out = tmp_path / "busy"
  out.mkdir()
  (out / "partial.txt").write_text("another command's work")
  with run_folder.locked(out):
    before = snapshot(out)
    for extra in ([], ["--force"]):
      status, _, stderr = run(capsys, "sweep", "--out", str(out), *extra, *TINY)
      assert status == 2 and "is in use by another indian-optax command" in stderr
    assert snapshot(out) == before


@pytest.mark.parametrize("where", ["/proc/x", "{file}/sub", "{file}"])
def test_a_bad_out_fails_at_once_before_data_or_compilation(tmp_path, capsys, monkeypatch, where):
  (tmp_path / "file").write_text("")
  out = where.format(file=tmp_path / "file")

  def never(*args, **kwargs):
    raise AssertionError("data loaded or a sweep started before --out was checked")

  monkeypatch.setattr(command.datasets, "load", never)
  monkeypatch.setattr(command, "sweep", never)
  status, stdout, stderr = run(capsys, "sweep", "--out", out)
  assert status == 2 and stdout == ""
  assert stderr.startswith("indian-optax: error: --out: ") and stderr.count("\n") == 1


def test_force_removes_nothing_before_the_data_is_known_to_be_right(tmp_path, capsys, npz_files):
  out = tmp_path / "kept"
  assert run(capsys, "train", "--out", str(out), *TINY)[0] == 0
  before = snapshot(out)
  status, _, stderr = run(capsys, "train", "--dataset", str(npz_files["nan"]), "--out", str(out),
                          "--force", *TINY)  # fmt: skip
  assert status == 2 and "x_test holds NaN" in stderr
  assert snapshot(out) == before, "a mistake found in the data must leave the old results"
  status, _, stderr = run(capsys, "train", "--batch-size", "5000", "--out", str(out), "--force")
  assert status == 2 and "--batch-size: 5000 exceeds" in stderr and snapshot(out) == before


def test_a_mistake_leaves_no_folder_it_created_however_deep(tmp_path, capsys, monkeypatch):
  deep = tmp_path / "a" / "b" / "c"
  status, _, stderr = run(capsys, "train", "--batch-size", "5000", "--out", str(deep))
  assert status == 2 and "--batch-size" in stderr and not (tmp_path / "a").exists()
  status, _, stderr = run(capsys, "train", "--compile-cache", "/proc/nope", "--out", str(deep))
  assert status == 2 and stderr.startswith("indian-optax: error: --compile-cache: cannot use")
  assert not (tmp_path / "a").exists()
  monkeypatch.setenv(command.CACHE_ENV, "/proc/nope")
  status, _, stderr = run(capsys, "train", "--out", str(deep))
  assert status == 2 and f"${command.CACHE_ENV}: cannot use '/proc/nope'" in stderr
  assert not (tmp_path / "a").exists()


def test_report_of_an_empty_or_damaged_result_is_one_line_or_a_summary(tmp_path, capsys):
  empty = tmp_path / "empty"
  SweepResult.empty(3).save(empty)
  status, stdout, _ = run(capsys, "report", str(empty))
  assert status == 0 and "no run has finished" in stdout
  damaged = tmp_path / "damaged"
  assert run(capsys, "sweep", "--alpha", "0.5", "--beta", "0.1", "--halving", "3", "--rungs", "1",
             "--out", str(damaged), *TINY)[0] == 0  # fmt: skip
  document = load(damaged)
  document["halving"]["eta"] = "x"
  (damaged / "results.json").write_text(json.dumps(document))
  status, _, stderr = run(capsys, "report", str(damaged))
  assert status == 2 and stderr.count("\n") == 1


# A shell that starts the suite in the background ignores SIGINT in its children, and a
# Python started so installs no KeyboardInterrupt handler: the command gets the handler a
# user's Ctrl-C meets (set in the child, as a preexec_fn would fork a threaded JAX process).
_AS_FROM_A_TERMINAL = (
  "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
  "runpy.run_module('indian_optax', run_name='__main__', alter_sys=True)"
)


def start(argv, **kwargs):
  return subprocess.Popen(
    [sys.executable, "-c", _AS_FROM_A_TERMINAL, *argv],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    **kwargs,
  )


def wait_for_partial(out, process, timeout=180):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    document = results_files.read_document(out / results_files.RESULTS_JSON)
    if document is not None and document["runs"]:
      return document
    assert process.poll() is None, process.communicate()
    time.sleep(0.02)
  raise AssertionError("no chunk was saved in time")


SIXTEEN = ["sweep", "--alpha", "0.3,0.5,1,2", "--beta", "0.05,0.1,0.5,1", "--chunk", "4",
           "--epochs", "6", "--batch-size", "32"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_sweep_keeps_its_chunks_and_resumes_to_the_same_results(tmp_path, stop):
  out, whole = tmp_path / "interrupted", tmp_path / "whole"
  process = start([*SIXTEEN, "--out", str(out)])
  wait_for_partial(out, process)
  process.send_signal(stop)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 130, stderr
  assert "--resume" in stderr and "Traceback" not in stderr
  partial = load(out)
  assert partial["complete"] is False and len(partial["runs"]) in (4, 8, 12)
  assert len((out / "results.csv").read_text().splitlines()) == len(partial["runs"]) + 1
  if stop == signal.SIGTERM:
    return
  resumed = subprocess.run([sys.executable, "-m", "indian_optax", *SIXTEEN, "--resume",
                            "--out", str(out)], capture_output=True, text=True)  # fmt: skip
  assert resumed.returncode == 0, resumed.stderr
  assert subprocess.run([sys.executable, "-m", "indian_optax", *SIXTEEN, "--out", str(whole)],
                        capture_output=True).returncode == 0  # fmt: skip
  assert load(out)["complete"] is True
  assert load(out)["runs"] == load(whole)["runs"]
  assert (out / "results.csv").read_bytes() == (whole / "results.csv").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_before_the_first_chunk_says_nothing_was_saved(tmp_path, stop):
  """Interrupted while the first program compiles: 130, one line, no folder left behind."""
  out = tmp_path / "early"
  process = start([*SIXTEEN, "--out", str(out), "--no-compile-cache"])
  deadline = time.monotonic() + 120
  while not out.exists():  # the folder is made and locked: the data is next
    assert time.monotonic() < deadline and process.poll() is None, process.communicate()
    time.sleep(0.01)
  time.sleep(0.5)
  process.send_signal(stop)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 130, stderr
  assert stderr.strip().endswith("interrupted; nothing was saved") and "Traceback" not in stderr
  assert not out.exists()


def test_a_resume_interrupted_before_its_first_new_chunk_says_the_earlier_chunks_are_saved(
  tmp_path, capsys, monkeypatch
):
  out = tmp_path / "twice"
  argv = ["sweep", "--alpha", "0.5,1", "--beta", "0.1", "--chunk", "1", "--out", str(out), *TINY]
  real_sweep = command.sweep

  def stopped_after_one_chunk(*args, on_chunk, **kwargs):
    def save_then_stop(partial):
      on_chunk(partial)
      raise KeyboardInterrupt

    return real_sweep(*args, on_chunk=save_then_stop, **kwargs)

  monkeypatch.setattr(command, "sweep", stopped_after_one_chunk)
  assert run(capsys, *argv)[0] == 130 and len(load(out)["runs"]) == 1

  def stopped_at_once(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(command, "sweep", stopped_at_once)
  status, _, stderr = run(capsys, *argv, "--resume")
  assert status == 130 and len(load(out)["runs"]) == 1
  assert stderr.strip().endswith(f"(continue with --resume --out {out.resolve()})"), stderr


def test_resume_needs_the_same_arguments_and_leaves_a_complete_folder_alone(tmp_path, capsys):
  out = tmp_path / "done"
  argv = ["sweep", "--alpha", "0.5,1", "--beta", "0.1", "--out", str(out), *TINY]
  assert run(capsys, *argv)[0] == 0
  before = snapshot(out)
  status, stdout, _ = run(capsys, "sweep", "--resume", "--out", str(out))
  assert status == 0 and "nothing to resume" in stdout
  status, _, stderr = run(capsys, "sweep", "--alpha", "0.5,2", "--resume", "--out", str(out))
  assert status == 2 and "--alpha: 0.5,2 differs from 0.5,1 recorded" in stderr
  assert snapshot(out) == before
  status, _, stderr = run(capsys, "sweep", "--resume", "--out", str(tmp_path / "empty"))
  assert status == 2 and "holds no results to resume" in stderr


@pytest.mark.slow
def test_a_bare_resume_restores_every_recorded_argument(tmp_path, capsys):
  """``--resume --out DIR`` alone, as the interrupt message says, finishes the same sweep."""
  whole, out = tmp_path / "whole", tmp_path / "interrupted"
  argv = ["sweep", "--alpha", "0.5,1", "--beta", "0.1", "--lr", "0.05", "--seeds", "2",
          "--select", "train_loss", "--val-fraction", "0.2", "--chunk", "2", *TINY]  # fmt: skip
  assert run(capsys, *argv, "--out", str(whole))[0] == 0
  document = load(whole)
  document["runs"], document["complete"] = document["runs"][:2], False  # one chunk of two
  out.mkdir()
  (out / "results.json").write_text(json.dumps(document))
  status, _, stderr = run(capsys, "sweep", "--resume", "--out", str(out))
  assert status == 0, stderr
  assert load(out)["complete"] is True and load(out)["runs"] == load(whole)["runs"]


@pytest.mark.slow
def test_select_reaches_the_sweep_and_chooses_the_lowest_training_loss(tmp_path, capsys):
  out = tmp_path / "by_loss"
  argv = ["sweep", "--alpha", "0.1,2", "--beta", "0.1", "--select", "train_loss", *TINY]
  assert run(capsys, *argv, "--out", str(out))[0] == 0
  result = SweepResult.load(out)
  assert result.selection == "train_loss"
  losses = {s.hyperparameters["alpha"]: s.mean["final_train_loss"] for s in result.settings()}
  assert result.best()["alpha"] == min(losses, key=losses.get)


@pytest.mark.slow
def test_report_redraws_the_plots_and_reprints_the_summary(tmp_path, capsys):
  out = tmp_path / "saved"
  assert (
    run(capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1,1", "--out", str(out), *TINY)[0] == 0
  )
  document = load(out)
  pngs = [name for name in document["files"] if name.endswith(".png")]
  for name in pngs:
    (out / name).unlink()
  # As an interrupt leaves it after drawing all figures but the last: unlisted, not drawn.
  (out / "results.json").write_text(json.dumps(document | {"files": document["files"][:-1]}))
  status, stdout, _ = run(capsys, "report", str(out))
  assert status == 0 and "showing 4 of 4 settings" in stdout
  assert_valid_pngs(out, pngs)
  assert load(out) == document, "the figure drawn again is listed again, nothing else changed"
  result = SweepResult.load(out)
  assert result.complete and len(result.configs) == 4
  assert result.best() == load(out)["best"]
  status, _, stderr = run(capsys, "report", str(tmp_path / "nowhere"))
  assert status == 2 and "does not exist" in stderr


@pytest.fixture
def npz_files(tmp_path):
  rng = np.random.default_rng(0)
  files = {}

  def save(name, **arrays):
    files[name] = tmp_path / f"{name}.npz"
    np.savez(files[name], **arrays)

  good = dict(
    x_train=rng.normal(size=(256, 6, 6)).astype(np.float32),
    y_train=rng.integers(0, 3, 256),
    x_test=rng.normal(size=(64, 6, 6)).astype(np.float32),
    y_test=rng.integers(0, 3, 64),
  )
  save("good", **good)
  save("partial", x_train=np.ones((4, 2)), y_train=np.zeros(4, int))
  save("labels", **good | {"y_train": rng.uniform(size=256)})
  save("empty_test", **good | {"x_test": np.ones((0, 6, 6)), "y_test": np.zeros(0, int)})
  save("strings", **good | {"x_train": np.array([["a"] * 6] * 256)})
  save("nan", **good | {"x_test": np.full((64, 6, 6), np.nan)})
  save(
    "far_labels", **good | {"y_train": np.where(good["y_train"] == 2, 1_000_000, good["y_train"])}
  )
  save("scalar_labels", **good | {"y_train": np.array(1)})
  save("no_features", **good | {"x_train": np.ones((256, 0)), "x_test": np.ones((64, 0))})
  save("huge", **good | {"x_train": np.full((256, 6, 6), 1e300)})
  save("complex", **good | {"x_train": good["x_train"] + 1j})
  files["garbage"] = tmp_path / "garbage.npz"
  files["garbage"].write_text("not an archive")
  files["empty_file"] = tmp_path / "empty.npz"
  files["empty_file"].write_bytes(b"")
  files["one_array"] = tmp_path / "one_array.npz"
  with open(files["one_array"], "wb") as handle:  # a .npy under an .npz name
    np.save(handle, good["x_train"])
  files["folder"] = tmp_path / "a_folder"
  files["folder"].mkdir()
  return files


@pytest.mark.slow
def test_a_users_npz_file_is_trained_on(tmp_path, capsys, npz_files):
  out = tmp_path / "npz"
  status, _, _ = run(capsys, "train", "--dataset", str(npz_files["good"]), "--out", str(out),
                     *TINY)  # fmt: skip
  assert status == 0
  report = load(out)
  assert report["dataset"] == str(npz_files["good"]) and report["model"] == "cnn"


BAD_INPUT = MISTAKES + DATA_MISTAKES


@pytest.mark.parametrize(
  "argv, culprit", BAD_INPUT, ids=[" ".join(a) or "none" for a, _ in BAD_INPUT]
)
def test_bad_input_gets_one_line_and_exit_status_2(tmp_path, capsys, npz_files, argv, culprit):
  argv = [a.format(**{k: str(v) for k, v in npz_files.items()}) for a in argv]
  out = tmp_path / "never"
  named = bool(argv) and "--out" not in argv and "--resume" not in argv  # as the line says
  status, stdout, stderr = run(capsys, *argv, *(["--out", str(out)] if named else []))
  assert status == 2
  assert stderr.startswith("indian-optax: error: ") and stderr.count("\n") == 1
  assert culprit in stderr
  assert stdout == ""
  assert not out.exists()


@pytest.mark.slow
def test_python_dash_m_runs_the_command():
  result = subprocess.run(
    [sys.executable, "-m", "indian_optax", "sweep", "--beta", "-2"],
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert result.returncode == 2
  assert result.stderr == "indian-optax: error: --beta: must be > 0, got -2\n"


@pytest.mark.slow
def test_a_missing_app_extra_is_one_line_not_a_traceback():
  # sklearn made unimportable in a fresh interpreter: the app's one check reports it.
  code = (
    "import sys; sys.modules['sklearn'] = None; sys.argv = ['indian-optax', 'sweep'];"
    "from indian_optax.__main__ import main; sys.exit(main())"
  )
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)  # fmt: skip
  assert result.returncode == 2
  assert (
    result.stderr == "indian-optax: error: sklearn is missing: pip install 'indian-optax[app]'\n"
  )


def test_digits_are_read_as_scikit_learn_reads_them():
  from sklearn.datasets import load_digits

  images, labels = data.digits_arrays()
  expected_images, expected_labels = load_digits(return_X_y=True)
  np.testing.assert_array_equal(images, expected_images)
  np.testing.assert_array_equal(labels, expected_labels)


@pytest.mark.slow
def test_the_readme_sweep_of_lists_of_different_lengths_runs(tmp_path, capsys):
  """4 alphas x 4 betas x 3 learning rates: once a traceback (whole lists multiplied)."""
  out = tmp_path / "readme"
  argv = ["sweep", "--alpha", "0.1,0.5,1,2", "--beta", "0.01,0.1,0.5,1", "--lr", "0.03,0.1,0.3",
          "--epochs", "1", "--batch-size", "256", "--out", str(out)]  # fmt: skip
  status, _, stderr = run(capsys, *argv)
  assert status == 0, stderr
  assert len(load(out)["runs"]) == 48


@pytest.mark.slow
def test_a_setting_swept_alone_gives_the_runs_it_gives_inside_a_grid(tmp_path, capsys):
  grid, alone = tmp_path / "grid", tmp_path / "alone"
  common = ["--seeds", "2", *TINY]
  assert run(capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1,0.5", "--lr", "0.1,0.3",
             "--out", str(grid), *common)[0] == 0  # fmt: skip
  assert run(capsys, "sweep", "--alpha", "1", "--beta", "0.1", "--lr", "0.3", "--out", str(alone),
             *common)[0] == 0  # fmt: skip
  inside = [r for r in load(grid)["runs"]
            if (r["alpha"], r["beta"], r["learning_rate"]) == (1.0, 0.1, 0.3)]  # fmt: skip
  assert inside == load(alone)["runs"]


@pytest.mark.slow
def test_resuming_a_results_file_of_a_newer_version_says_so(tmp_path, capsys):
  out = tmp_path / "newer"
  assert run(capsys, "sweep", "--alpha", "0.5", "--beta", "0.1", "--out", str(out), *TINY)[0] == 0
  document = load(out)
  (out / "results.json").write_text(json.dumps(document | {"version": 99, "complete": False}))
  status, _, stderr = run(capsys, "sweep", "--resume", "--out", str(out))
  assert status == 2 and "written by a newer indian-optax (results format version 99" in stderr
  assert stderr.count("\n") == 1


@pytest.mark.slow
def test_resuming_another_commands_results_is_refused(tmp_path, capsys):
  out = tmp_path / "trained"
  assert run(capsys, "train", "--out", str(out), *TINY)[0] == 0
  status, _, stderr = run(capsys, "sweep", "--resume", "--out", str(out))
  assert status == 2 and "holds the results of 'train', not 'sweep'" in stderr


@pytest.mark.slow
def test_the_command_halves_and_records_the_epochs_each_run_trained(tmp_path, capsys):
  out = tmp_path / "halved"
  argv = ["sweep", "--alpha", "0.1,0.5,1", "--beta", "0.1,0.5,1", "--epochs", "4"]
  status, stdout, _ = run(capsys, *argv, "--batch-size", "128", "--halving", "3", "--out", str(out))
  assert status == 0
  report = load(out)
  assert report["halving"] == {"eta": 3.0, "rungs": [1]}
  trained = [run_["epochs_trained"] for run_ in report["runs"]]
  assert sorted(trained) == [1] * 6 + [4] * 3
  for run_ in report["runs"]:
    assert len(run_["history"]["train_loss"]) == run_["epochs_trained"]
  assert report["best"]["alpha"] in {r["alpha"] for r in report["runs"] if r["epochs_trained"] == 4}
  assert "18 of 36 configuration-epochs trained" in stdout


@pytest.mark.slow
def test_the_command_caches_its_compilations_where_it_is_told(tmp_path):
  argv = [sys.executable, "-m", "indian_optax", "sweep", "--alpha", "0.5", "--beta", "0.1"]
  argv += ["--epochs", "1", "--batch-size", "128"]
  environment = {k: v for k, v in os.environ.items() if k != "INDIAN_OPTAX_COMPILE_CACHE"}
  cache, unused = tmp_path / "cache", tmp_path / "unused"
  for name, extra in (("on", []), ("off", ["--no-compile-cache"])):
    folder = cache if name == "on" else unused
    arguments = [*argv, "--compile-cache", str(folder), *extra, "--out", str(tmp_path / name)]
    ran = subprocess.run(arguments, capture_output=True, text=True, timeout=300, env=environment)
    assert ran.returncode == 0, ran.stderr
  assert any(cache.iterdir()), "compilations are written to the cache"
  assert not unused.exists()

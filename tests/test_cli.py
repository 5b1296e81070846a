"""The `indian-optax` command end to end, on tiny settings."""

import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib import image

from indian_optax import cli

TINY = ["--epochs", "2", "--batch-size", "128"]


def run(capsys, *argv):
  status = cli.main(list(argv))
  captured = capsys.readouterr()
  return status, captured.out, captured.err


def load(out):
  return json.loads((out / "results.json").read_text())


def assert_valid_pngs(out, names):
  for name in names:
    path = out / name
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.imread(path).ndim == 3


def test_sweep_writes_results_csv_and_plots(tmp_path, capsys):
  out = tmp_path / "sweep"
  status, stdout, _ = run(
    capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1,0.5", "--out", str(out), *TINY
  )
  assert status == 0
  report = load(out)
  assert {"command", "dataset", "model", "runs"} <= set(report)
  assert (report["command"], report["dataset"], report["model"]) == ("sweep", "digits", "mlp")
  assert report["arguments"][:3] == ["sweep", "--alpha", "0.5,1"] and report["devices"] == 1
  assert report["best"]["final_test_accuracy"] == max(
    r["final_test_accuracy"] for r in report["runs"]
  )
  assert len(report["runs"]) == 4
  for run_ in report["runs"]:
    assert run_["optimizer"] == "indian"
    assert run_["alpha"] in (0.5, 1.0) and run_["beta"] in (0.1, 0.5)
    assert run_["learning_rate"] == 0.1 and run_["seed"] == 0
    assert 0.0 <= run_["final_test_accuracy"] <= 1.0
    assert run_["final_train_loss"] > 0
    assert len(run_["history"]["train_loss"]) == len(run_["history"]["test_accuracy"]) == 2
  assert {(r["alpha"], r["beta"]) for r in report["runs"]} == {
    (0.5, 0.1),
    (0.5, 0.5),
    (1.0, 0.1),
    (1.0, 0.5),
  }
  csv_lines = (out / "results.csv").read_text().splitlines()
  assert csv_lines[0].startswith("optimizer,alpha,beta,learning_rate")
  assert len(csv_lines) == 5
  assert_valid_pngs(out, ["heatmap_test_accuracy.png", "heatmap_train_loss.png", "curves.png"])
  assert "test acc" in stdout and "results.json" in stdout


def test_sweep_over_innaprop_learning_rates_and_seeds_in_chunks(tmp_path, capsys):
  out = tmp_path / "inna"
  argv = ["sweep", "--optimizer", "innaprop", "--alpha", "0.1,2", "--beta", "0.9,2"]
  argv += ["--lr", "0.001,0.003", "--seeds", "2", "--chunk", "5", "--out", str(out), *TINY]
  status, _, _ = run(capsys, *argv)
  assert status == 0
  runs = load(out)["runs"]
  assert len(runs) == 16
  assert {r["seed"] for r in runs} == {0, 1}
  assert {r["sigma"] for r in runs} == {0.999}


def test_compare_puts_indian_and_innaprop_against_optax_peers(tmp_path, capsys):
  out = tmp_path / "compare"
  argv = ["compare", "--optimizers", "indian,innaprop,adamw,sgd", "--lr", "0.003,0.1"]
  status, stdout, _ = run(capsys, *argv, "--seeds", "2", "--out", str(out), *TINY)
  assert status == 0
  runs = load(out)["runs"]
  assert len(runs) == 4 * 2 * 2
  by_name = {r["optimizer"]: r for r in runs}
  assert by_name["adamw"]["alpha"] is None and by_name["adamw"]["beta"] is None
  assert (by_name["indian"]["alpha"], by_name["indian"]["beta"]) == (0.5, 0.1)
  assert_valid_pngs(out, ["curves.png"])
  assert all(name in stdout for name in ("indian", "innaprop", "adamw", "sgd"))


def test_train_runs_one_configuration(tmp_path, capsys):
  out = tmp_path / "train"
  argv = ["train", "--alpha", "1", "--beta", "0.5", "--lr", "0.05", "--model", "cnn"]
  status, _, _ = run(capsys, *argv, "--out", str(out), *TINY)
  assert status == 0
  report = load(out)
  assert report["model"] == "cnn"
  (only,) = report["runs"]
  assert (only["alpha"], only["beta"], only["learning_rate"]) == (1.0, 0.5, 0.05)


def test_same_arguments_give_the_same_numbers(tmp_path, capsys):
  for name in ("a", "b"):
    status, _, _ = run(capsys, "sweep", "--alpha", "0.5,1", "--beta", "0.1", "--out",
                       str(tmp_path / name), *TINY)  # fmt: skip
    assert status == 0
  assert load(tmp_path / "a")["runs"] == load(tmp_path / "b")["runs"]


def test_a_second_run_into_the_same_folder_is_refused_and_leaves_it_untouched(tmp_path, capsys):
  out = tmp_path / "kept"
  assert run(capsys, "train", "--out", str(out), *TINY)[0] == 0
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  status, stdout, stderr = run(capsys, "sweep", "--out", str(out), *TINY)
  assert status == 2
  assert "already holds results" in stderr and "--force" in stderr
  assert stderr.count("\n") == 1 and stdout == ""
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before
  assert run(capsys, "train", "--lr", "0.05", "--out", str(out), "--force", *TINY)[0] == 0
  assert load(out)["runs"][0]["learning_rate"] == 0.05


@pytest.fixture
def npz_files(tmp_path):
  rng = np.random.default_rng(0)
  good = tmp_path / "good.npz"
  np.savez(
    good,
    x_train=rng.normal(size=(256, 6, 6)).astype(np.float32),
    y_train=rng.integers(0, 3, 256),
    x_test=rng.normal(size=(64, 6, 6)).astype(np.float32),
    y_test=rng.integers(0, 3, 64),
  )
  partial = tmp_path / "partial.npz"
  np.savez(partial, x_train=np.ones((4, 2)), y_train=np.zeros(4, int))
  garbage = tmp_path / "garbage.npz"
  garbage.write_text("not an archive")
  bad_labels = tmp_path / "labels.npz"
  np.savez(
    bad_labels,
    x_train=np.ones((4, 2)),
    y_train=np.array([0.5, 1, 2, 3]),
    x_test=np.ones((2, 2)),
    y_test=np.zeros(2, int),
  )
  return {"good": good, "partial": partial, "garbage": garbage, "labels": bad_labels}


def test_a_users_npz_file_is_trained_on(tmp_path, capsys, npz_files):
  out = tmp_path / "npz"
  status, _, _ = run(capsys, "train", "--dataset", str(npz_files["good"]), "--out", str(out),
                     *TINY)  # fmt: skip
  assert status == 0
  report = load(out)
  assert report["dataset"] == str(npz_files["good"]) and report["model"] == "cnn"


BAD_INPUT = [
  (["sweep", "--alpha", "abc"], "--alpha: 'abc' is not a number"),
  (["sweep", "--beta", "0"], "--beta: must be > 0, got 0"),
  (["sweep", "--alpha", "-1"], "--alpha: must be >= 0, got -1"),
  (["sweep", "--lr", "nan"], "--lr: must be > 0, got nan"),
  (["sweep", "--optimizer", "innaprop", "--sigma", "1"], "--sigma: must be in [0, 1), got 1"),
  (["sweep", "--sigma", "0.9"], "--sigma: only for --optimizer innaprop"),
  (["sweep", "--dataset", "cifar"], "--dataset: unknown data set 'cifar'"),
  (["sweep", "--dataset", "missing.npz"], "--dataset: data file 'missing.npz' does not exist"),
  (["sweep", "--dataset", "{partial}"], "lacks x_test, y_test"),
  (["sweep", "--dataset", "{garbage}"], "is not a readable .npz archive"),
  (["sweep", "--dataset", "{labels}"], "y_train must hold one non-negative integer label"),
  (["sweep", "--model", "resnet"], "--model: unknown model 'resnet'"),
  (["sweep", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
  (["sweep", "--batch-size", "x"], "--batch-size: 'x' is not an integer"),
  (["compare", "--optimizers", "adam,lion"], "--optimizers: unknown 'lion'"),
  (["train", "--optimizer", "sgd", "--beta", "1"], "sgd has no alpha or beta"),
  (["train", "--lr", "0.1,0.2"], "--lr: give one value, got 2"),
  (["frobnicate"], "invalid choice: 'frobnicate'"),
  ([], "choose a command"),
]


@pytest.mark.parametrize(
  "argv, culprit", BAD_INPUT, ids=[" ".join(a) or "none" for a, _ in BAD_INPUT]
)
def test_bad_input_gets_one_line_and_exit_status_2(tmp_path, capsys, npz_files, argv, culprit):
  argv = [a.format(**{k: str(v) for k, v in npz_files.items()}) for a in argv]
  out = tmp_path / "never"
  status, stdout, stderr = run(capsys, *argv, *(["--out", str(out)] if argv else []))
  assert status == 2
  assert stderr.startswith("indian-optax: error: ") and stderr.count("\n") == 1
  assert culprit in stderr
  assert "Traceback" not in stderr and stdout == ""
  assert not out.exists()


def test_python_dash_m_runs_the_command():
  result = subprocess.run(
    [sys.executable, "-m", "indian_optax", "sweep", "--beta", "-2"],
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert result.returncode == 2
  assert result.stderr == "indian-optax: error: --beta: must be > 0, got -2\n"


def test_a_missing_app_extra_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
  from indian_optax import data

  def missing(*args, **kwargs):
    raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")

  monkeypatch.setattr(data, "load", missing)
  status, _, stderr = run(capsys, "sweep", "--out", str(tmp_path / "x"))
  assert status == 2
  assert stderr == "indian-optax: error: sklearn is missing: pip install 'indian-optax[app]'\n"

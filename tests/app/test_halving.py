"""Successive halving inside the vmapped program: rungs, survivors, stopped runs, the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_sweep import indian, problem

from indian_optax import app
from indian_optax.app import cli
from indian_optax.app.halving import rung_epochs

GRID = {"alpha": [0.3, 1.0, 2.0], "beta": [0.2, 0.7, 1.5], "learning_rate": [0.05]}


def halved(grid=GRID, **kwargs):
  arguments = dict(epochs=4, batch_size=32, seeds=[0, 1], halving=3) | kwargs
  return app.sweep(indian, grid, **problem(), **arguments)


@pytest.mark.parametrize(
  "select, higher_is_better",
  [("val_accuracy", True), ("val_loss", False), ("train_loss", False)],
)
def test_each_rung_keeps_the_best_third_of_the_settings_with_their_seeds(select, higher_is_better):
  result = halved(select=select)
  assert rung_epochs(4, 3) == [1]
  trained = np.asarray(result.epochs_trained)
  assert sorted(trained) == [1] * 12 + [4] * 6  # 9 settings x 2 seeds; ceil(9 / 3) continue
  survivors = {
    tuple(c[k] for k in GRID) for c, e in zip(result.configs, trained, strict=True) if e == 4
  }
  # The survivors are the best settings by the mean over seeds of the selection metric
  # after the rung (the epoch's training loss stands in for the final one).
  after_rung = {}
  for config, score in zip(result.configs, getattr(result, select)[:, 0], strict=True):
    after_rung.setdefault(tuple(config[k] for k in GRID), []).append(score)
  sign = -1 if higher_is_better else 1
  ranked = sorted(after_rung, key=lambda s: sign * np.mean(after_rung[s]))
  assert survivors == set(ranked[:3])
  for i in np.flatnonzero(trained == 1):
    assert np.all(np.isnan(result.train_loss[i, 1:])), "later epochs are absent"
    assert result.diverged_at[i] is None
  assert all(s.trained_to_end for s in result.ranked_settings()[:3])


def test_halving_equals_the_full_sweep_for_what_it_trained(float64):
  setup = problem(np.float64)
  full = app.sweep(indian, GRID, epochs=4, batch_size=32, seeds=[0, 1], **setup)
  cut = app.sweep(indian, GRID, epochs=4, batch_size=32, seeds=[0, 1], halving=3, **setup)
  assert cut.configs == full.configs
  for i, epochs in enumerate(cut.epochs_trained):
    np.testing.assert_allclose(cut.train_loss[i, :epochs], full.train_loss[i, :epochs], rtol=1e-10)
    np.testing.assert_array_equal(cut.val_accuracy[i, :epochs], full.val_accuracy[i, :epochs])
    if epochs == 4:
      np.testing.assert_allclose(cut.final_train_loss[i], full.final_train_loss[i], rtol=1e-10)


def test_halving_is_deterministic_and_chunks_change_nothing():
  first, again, chunked = halved(), halved(), halved(chunk_size=5)
  np.testing.assert_array_equal(first.epochs_trained, again.epochs_trained)
  np.testing.assert_array_equal(first.train_loss, again.train_loss)
  np.testing.assert_array_equal(first.epochs_trained, chunked.epochs_trained)
  np.testing.assert_allclose(first.train_loss, chunked.train_loss, rtol=1e-6)


def test_diverged_settings_stop_at_the_next_rung_whatever_their_rank():
  grid = {"alpha": [0.3, 1.0], "beta": [0.2], "learning_rate": [0.05, 0.2, 1e6]}
  # eta just above 1 keeps every finite setting: only divergence stops a run here.
  result = halved(grid=grid, halving=1.01, rungs=[2], epochs=3)
  for config, epochs, diverged in zip(
    result.configs, result.epochs_trained, result.diverged_at, strict=True
  ):
    if config["learning_rate"] == 1e6:
      assert diverged is not None and epochs == 2
    else:
      assert diverged is None and epochs == 3
  assert result.best()["learning_rate"] != 1e6


def test_rung_schedules():
  assert rung_epochs(12, 3) == [1, 4]
  assert rung_epochs(15, 3) == [2, 5]
  assert rung_epochs(12, 2, [3, 6, 9]) == [3, 6, 9]
  with pytest.raises(ValueError, match="halving must be > 1"):
    rung_epochs(12, 1.0)
  with pytest.raises(ValueError, match=r"rungs must be epochs in \[1, 12\)"):
    rung_epochs(12, 3, [12])
  with pytest.raises(ValueError, match="resume_from is not supported with halving"):
    halved(resume_from=halved())


def test_the_cli_halves_and_records_the_epochs_each_run_trained(tmp_path, capsys):
  out = tmp_path / "halved"
  argv = ["sweep", "--alpha", "0.1,0.5,1", "--beta", "0.1,0.5,1", "--epochs", "4"]
  status = cli.main([*argv, "--batch-size", "128", "--halving", "3", "--out", str(out)])
  stdout = capsys.readouterr().out
  assert status == 0
  report = json.loads((out / "results.json").read_text())
  assert report["halving"] == {"eta": 3.0, "rungs": [1]}
  trained = [run["epochs_trained"] for run in report["runs"]]
  assert sorted(trained) == [1] * 6 + [4] * 3
  for run in report["runs"]:
    assert len(run["history"]["train_loss"]) == run["epochs_trained"]
  assert report["best"]["alpha"] in {r["alpha"] for r in report["runs"] if r["epochs_trained"] == 4}
  assert "18 of 36 configuration-epochs trained" in stdout


@pytest.mark.parametrize(
  "extra, culprit",
  [
    (["--halving", "1"], "--halving: must be > 1, got 1"),
    (["--rungs", "2"], "--rungs: only with --halving"),
    (["--halving", "3", "--rungs", "15"], "--rungs: rungs must be epochs in [1, 15)"),
  ],
)
def test_bad_halving_arguments_are_one_line(tmp_path, capsys, extra, culprit):
  status = cli.main(["sweep", *extra, "--out", str(tmp_path / "never")])
  assert status == 2 and culprit in capsys.readouterr().err
  assert not (tmp_path / "never").exists()


def test_the_command_caches_its_compilations_where_it_is_told(tmp_path):
  argv = [sys.executable, "-m", "indian_optax", "sweep", "--alpha", "0.5", "--beta", "0.1"]
  argv += ["--epochs", "1", "--batch-size", "128"]
  environment = {k: v for k, v in os.environ.items() if k != "INDIAN_OPTAX_COMPILE_CACHE"}
  cache, unused = tmp_path / "cache", tmp_path / "unused"
  for name, extra in (("on", []), ("off", ["--no-compile-cache"])):
    folder = cache if name == "on" else unused
    command = [*argv, "--compile-cache", str(folder), *extra, "--out", str(tmp_path / name)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert run.returncode == 0, run.stderr
  assert any(cache.iterdir()), "compilations are written to the cache"
  assert not unused.exists()

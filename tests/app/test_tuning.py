"""Tuning with Optuna: batches trained by the sweep engine, a study that keeps its budget, its
trials and its runs, and the `indian-optax tune` command around it."""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
from tiny import indian_factory, tiny_problem

from indian_optax.app import Range, SweepResult, cli, sweep, tune, tuning

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = {"alpha": Range(0.2, 2.0), "beta": Range(0.05, 1.0), "learning_rate": 0.1}
TINY = dict(epochs=3, batch_size=25, seeds=[3, 4], chunk_size=4)


def study(select="val_accuracy", seed=0):
  sampler = optuna.samplers.RandomSampler(seed=seed)
  return optuna.create_study(direction=tuning.direction(select), sampler=sampler)


# The library ----------------------------------------------------------------------------------


def test_a_tuned_setting_gives_the_runs_it_gives_in_a_sweep():
  """One engine: each trial's per-seed numbers equal a sweep of that one setting at the same
  chunk width, bit for bit."""
  problem, tuned = tiny_problem(), study()
  result = tune(indian_factory, SPACE, **problem, **TINY, trials=4, batch=4, study=tuned)
  assert len(result.settings()) == 4 and [c["seed"] for c in result.configs] == [3, 4] * 4
  for setting in result.settings():
    values = {k: [v] for k, v in setting.hyperparameters.items() if k != "trial"}
    alone = sweep(indian_factory, values, **problem, **TINY)
    runs = result.where(trial=setting.hyperparameters["trial"])
    for field in ("final_val_accuracy", "final_test_accuracy", "final_train_loss", "train_loss"):
      np.testing.assert_array_equal(getattr(runs, field), getattr(alone, field), err_msg=field)


def test_each_trial_is_told_its_mean_score_and_reports_its_curve():
  tuned = study()
  result = tune(indian_factory, SPACE, **tiny_problem(), **TINY, trials=3, batch=2, study=tuned)
  assert len(tuned.trials) == 3, "two batches: 2 trials, then the last one"
  for trial in tuned.trials:
    runs = result.where(trial=trial.number)
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.value == pytest.approx(np.mean(runs.final_val_accuracy), abs=0)
    curve = np.mean(runs.val_accuracy, axis=0)
    assert trial.intermediate_values == {e + 1: pytest.approx(v) for e, v in enumerate(curve)}
    assert trial.params == {k: c for k, c in runs.configs[0].items() if k in ("alpha", "beta")}
  rebuilt = tuning.finished(tuned, 3, "val_accuracy")
  np.testing.assert_array_equal(rebuilt.val_accuracy, result.val_accuracy)


def test_halving_inside_a_batch_prunes_the_trials_it_stops():
  tuned = study()
  result = tune(indian_factory, SPACE, **tiny_problem(), **TINY | {"epochs": 4}, trials=4,
                batch=4, study=tuned, halving=2, rungs=[2])  # fmt: skip
  states = [t.state.name for t in tuned.trials]
  assert states.count("PRUNED") == 2 and states.count("COMPLETE") == 2
  for trial in tuned.trials:
    trained = set(result.where(trial=trial.number).epochs_trained)
    assert trained == ({4} if trial.state.name == "COMPLETE" else {2})


def test_a_diverged_trial_gets_the_worst_score_not_a_failure():
  space = {"alpha": 0.5, "beta": 0.1, "learning_rate": Range(1e6, 1e7)}
  tuned = study()
  tune(indian_factory, space, **tiny_problem(), **TINY, trials=2, batch=2, study=tuned)
  assert [t.value for t in tuned.trials] == [0.0, 0.0]
  assert all(t.user_attrs["diverged"] == 2 for t in tuned.trials)


@pytest.mark.parametrize("stale", [False, True], ids=["in turn", "at once"])
def test_processes_sharing_a_study_never_take_more_than_its_trials(monkeypatch, stale):
  """Two handles on one storage ask in turn, or at once (each saw the study before the other
  asked: the count before asking says nothing): the budget holds, extras are failed."""
  if stale:
    monkeypatch.setattr(tuning, "_live", lambda study: 0)
  storage = optuna.storages.InMemoryStorage()
  first = optuna.create_study(storage=storage, study_name="s", direction="maximize")
  second = optuna.load_study(storage=storage, study_name="s")
  a = tuning.ask_batch(first, SPACE, trials=5, batch=3)
  b = tuning.ask_batch(second, SPACE, trials=5, batch=3)
  assert (len(a), len(b)) == (3, 2)
  assert tuning.ask_batch(first, SPACE, trials=5, batch=3) == []
  live = [t for t in first.trials if t.state.name != "FAIL"]
  assert len(live) == 5 and len({t.number for t in first.trials}) == len(first.trials)
  assert [t.number for t in live] == [0, 1, 2, 3, 4], "the first five numbers take the places"


def test_an_interrupted_batch_fails_its_trials_and_a_second_run_completes_the_study():
  tuned, problem = study(), tiny_problem()

  def stop(progress):
    if progress.epoch == 1:
      raise KeyboardInterrupt

  with pytest.raises(KeyboardInterrupt):
    tune(indian_factory, SPACE, **problem, **TINY, trials=4, batch=2, study=tuned, on_epoch=stop)
  assert [t.state.name for t in tuned.trials] == ["FAIL", "FAIL"]
  result = tune(indian_factory, SPACE, **problem, **TINY, trials=4, batch=2, study=tuned)
  assert sorted({c["trial"] for c in result.configs}) == [2, 3, 4, 5]
  assert [t.state.name for t in tuned.trials].count("COMPLETE") == 4


def test_the_running_trials_of_a_dead_local_process_are_failed_at_the_next_start():
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True)  # fmt: skip
  tuned = study()
  killed, alive, elsewhere = (tuned.ask() for _ in range(3))
  killed.set_user_attr(tuning.PROCESS, [socket.gethostname(), int(dead.stdout)])
  alive.set_user_attr(tuning.PROCESS, [socket.gethostname(), os.getpid()])
  elsewhere.set_user_attr(tuning.PROCESS, ["another-host", int(dead.stdout)])
  assert tuning.fail_dead_trials(tuned) == [killed.number]
  assert [t.state.name for t in tuned.trials] == ["FAIL", "RUNNING", "RUNNING"]


def test_an_interrupt_while_asking_fails_the_trials_already_asked(monkeypatch):
  calls = []

  def live_then_interrupted(study):
    calls.append(1)
    if len(calls) == 2:
      raise KeyboardInterrupt
    return 0

  monkeypatch.setattr(tuning, "_live", live_then_interrupted)
  tuned = study()
  with pytest.raises(KeyboardInterrupt):
    tune(indian_factory, SPACE, **tiny_problem(), **TINY, trials=4, batch=4, study=tuned)
  assert [t.state.name for t in tuned.trials] == ["FAIL"]
  tuning.fail(tuned, [0])  # failing a finished trial again is no error (two processes may)


@pytest.mark.parametrize(
  "space, message",
  [
    ({"alpha": Range(1.0, 0.1)}, "alpha: low must be below high, got 1:0.1"),
    ({"alpha": Range(0.0, 1.0)}, "a log range needs low > 0"),
    ({"alpha": 0.5}, "the space has no range to search"),
  ],
)
def test_a_bad_space_is_a_value_error_naming_the_hyperparameter(space, message):
  with pytest.raises(ValueError, match=message):
    tune(indian_factory, space, **tiny_problem(), trials=1)


# The command ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(240, 6)).astype(np.float32)
  y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
  path = tmp_path_factory.mktemp("data") / "flat.npz"
  np.savez(path, x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
  return str(path)


def command(data_file, out, *extra, epochs=2):
  return ["tune", "--dataset", data_file, "--epochs", str(epochs), "--batch-size", "32",
          "--batch", "2", "--out", str(out), *extra]  # fmt: skip


def run(capsys, *argv):
  status = cli.main(list(argv))
  captured = capsys.readouterr()
  return status, captured.out, captured.err


def trial_states(out, name="indian-optax"):
  loaded = optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")
  return [t.state.name for t in loaded.trials]


def test_tune_keeps_its_study_in_the_folder_and_the_same_command_goes_on(
  tmp_path, capsys, data_file
):
  out = tmp_path / "tuned"
  status, stdout, _ = run(capsys, *command(data_file, out, "--trials", "3"))
  assert status == 0 and "3 of 3 trials finished" in stdout
  document = json.loads((out / "results.json").read_text())
  assert document["command"] == "tune" and document["complete"] is True
  assert {"study.db", "trials.png", "trial_history.png"} <= set(document["files"])
  assert sorted(p.name for p in out.iterdir()) == sorted(document["files"])
  status, stdout, _ = run(capsys, *command(data_file, out, "--trials", "5"))
  assert status == 0 and "5 of 5 trials finished" in stdout
  assert trial_states(out) == ["COMPLETE"] * 5
  assert len(SweepResult.load(out).settings()) == 5
  status, stdout, _ = run(capsys, "report", str(out))
  assert status == 0 and "trial" in stdout.splitlines()[1]


@pytest.mark.parametrize(
  "extra, epochs, message",
  [
    (["--alpha", "0.1:1"], 2, "--alpha: 0.1:1 differs from 0.05:5 recorded in"),
    ([], 3, "--epochs: 3 differs from 2 recorded"),
  ],
)
def test_a_study_goes_on_only_with_the_options_it_was_made_with(
  tmp_path, capsys, data_file, extra, epochs, message
):
  out = tmp_path / "tuned"
  assert run(capsys, *command(data_file, out, "--trials", "2"))[0] == 0
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  argv = command(data_file, out, "--trials", "4", *extra, epochs=epochs)
  status, _, stderr = run(capsys, *argv)
  assert status == 2 and message in stderr and stderr.count("\n") == 1
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_storage_that_cannot_be_opened_is_one_line_and_leaves_no_folder(
  tmp_path, capsys, data_file
):
  out = tmp_path / "never"
  url = f"sqlite:///{tmp_path / 'missing' / 'deeper' / 'study.db'}"
  status, _, stderr = run(capsys, *command(data_file, out, "--storage", url))
  assert status == 2 and stderr.startswith("indian-optax: error: --storage: cannot open")
  assert stderr.count("\n") == 1 and not out.exists()


def test_force_with_a_study_elsewhere_checks_it_before_removing_anything(
  tmp_path, capsys, data_file
):
  url = f"sqlite:///{tmp_path / 'shared.db'}"
  out = tmp_path / "tuned"
  assert run(capsys, *command(data_file, out, "--trials", "2", "--storage", url))[0] == 0
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  argv = command(data_file, out, "--trials", "2", "--storage", url, "--lr", "0.01:0.1", "--force")
  status, _, stderr = run(capsys, *argv)
  assert status == 2 and "--study: 'indian-optax' in sqlite:///" in stderr
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_relative_storage_is_recorded_as_an_absolute_one(tmp_path, monkeypatch):
  from indian_optax.app.plan import parse

  monkeypatch.chdir(tmp_path)
  for given, recorded in (("journal:j.log", f"journal:{tmp_path / 'j.log'}"),
                          ("sqlite:///s.db", f"sqlite:///{tmp_path / 's.db'}"),
                          ("sqlite:////abs/s.db", "sqlite:////abs/s.db")):  # fmt: skip
    assert parse(["tune", "--storage", given]).options.storage == recorded


def test_a_study_made_for_another_optimizer_is_refused(tmp_path, capsys, data_file):
  url = f"sqlite:///{tmp_path / 'shared.db'}"
  assert run(capsys, *command(data_file, tmp_path / "a", "--trials", "2", "--storage", url))[0] == 0
  argv = command(data_file, tmp_path / "b", "--optimizer", "innaprop", "--storage", url)
  status, _, stderr = run(capsys, *argv)
  assert status == 2 and "--study: 'indian-optax' in sqlite:///" in stderr
  assert "was made for --alpha" in stderr or "was made for --optimizer indian" in stderr


@pytest.mark.parametrize("sampler", ["random", "cmaes"])
def test_the_other_samplers_tune_too(tmp_path, capsys, data_file, sampler):
  """CMA-ES needs the cmaes package (the cmaes extra, which the test extra installs)."""
  argv = command(data_file, tmp_path / sampler, "--trials", "4", "--sampler", sampler, epochs=1)
  status, stdout, stderr = run(capsys, *argv)
  assert status == 0, stderr
  assert "4 of 4 trials finished" in stdout


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed")
def test_the_gaussian_process_sampler_without_pytorch_is_one_line(tmp_path, capsys, data_file):
  status, _, stderr = run(capsys, *command(data_file, tmp_path / "gp", "--sampler", "gp"))
  assert status == 2 and stderr.count("\n") == 1
  assert "--sampler gp: Optuna's sampler needs the torch package: pip install" in stderr
  assert not (tmp_path / "gp").exists()


_AS_FROM_A_TERMINAL = (
  "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
  "runpy.run_module('indian_optax', run_name='__main__', alter_sys=True)"
)


def start(argv):
  return subprocess.Popen([sys.executable, "-c", _AS_FROM_A_TERMINAL, *argv],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.slow
def test_processes_started_at_once_on_one_study_finish_exactly_its_trials(tmp_path, data_file):
  for url in (f"journal:{tmp_path / 'journal.log'}", f"sqlite:///{tmp_path / 'study.db'}"):
    name = "journal" if url.startswith("journal") else "sqlite"
    processes = [
      start(command(data_file, tmp_path / f"{name}{i}", "--trials", "7", "--storage", url))
      for i in range(2)
    ]
    for process in processes:
      _, stderr = process.communicate(timeout=300)
      assert process.returncode == 0, stderr[-2000:]
    storage = url if name == "sqlite" else optuna.storages.JournalStorage(
      optuna.storages.journal.JournalFileBackend(url.removeprefix("journal:")))  # fmt: skip
    trials = optuna.load_study(study_name="indian-optax", storage=storage).trials
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 7, name
    assert len({t.number for t in trials}) == len(trials), name
    assert not [t for t in trials if t.state.name == "RUNNING"], name


@pytest.mark.slow
def test_an_interrupted_tuning_fails_its_batch_and_the_same_command_completes_it(
  tmp_path, data_file
):
  """SIGTERM (the command handles it as Ctrl-C: tests/app/test_interrupts.py)."""
  out = tmp_path / "tuned"
  argv = command(data_file, out, "--trials", "4", epochs=400)
  process = start(argv)
  deadline = time.monotonic() + 120
  while not (out / "results.json").exists():  # the study is open: the first batch is next
    assert time.monotonic() < deadline and process.poll() is None, process.communicate()
    time.sleep(0.05)
  time.sleep(2.0)
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 130, stderr[-2000:]
  assert "run the same command again to go on" in stderr and "Traceback" not in stderr
  assert "RUNNING" not in trial_states(out) and "FAIL" in trial_states(out)
  document = json.loads((out / "results.json").read_text())
  assert document["complete"] is False
  assert sorted(p.name for p in out.iterdir()) == sorted(document["files"])
  again = subprocess.run([sys.executable, "-m", "indian_optax", *argv], capture_output=True,
                         text=True, timeout=600)  # fmt: skip
  assert again.returncode == 0, again.stderr[-2000:]
  assert trial_states(out).count("COMPLETE") == 4

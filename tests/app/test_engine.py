"""The sweep engine, against an oracle outside itself (a hand-written lax.scan training loop):
one loop for full sweeps and successive halving, chunks, resumption, divergence, selection."""

import dataclasses
import importlib
import math
import types

import jax
import numpy as np
import pytest
from oracle import hand_written_run
from tiny import GRID

import indian_optax
from indian_optax import app
from indian_optax.app import engine

sweep_module = importlib.import_module("indian_optax.app.sweeping")


def assert_run_matches(result, i, oracle, val_size):
  history, final_loss = oracle
  np.testing.assert_allclose(result.train_loss[i], history["train_loss"], rtol=2e-5)
  np.testing.assert_allclose(result.final_train_loss[i], final_loss, rtol=2e-5)
  # An accuracy may move by one sample where float32 rounding flips an argmax.
  np.testing.assert_allclose(result.val_accuracy[i], history["val_accuracy"], atol=1.01 / val_size)
  np.testing.assert_allclose(result.test_accuracy[i], history["test_accuracy"], atol=0.02)
  np.testing.assert_allclose(result.val_loss[i], history["val_loss"], rtol=2e-5)
  np.testing.assert_allclose(result.test_loss[i], history["test_loss"], rtol=2e-5)


# ---------------------------------------------------------------- the run contract
def test_every_row_of_a_sweep_equals_a_hand_written_training_loop(problem, indian):
  result = app.sweep(indian, GRID, epochs=3, batch_size=32, seeds=[0, 7], **problem)
  assert len(result.configs) == 16
  val_size = len(app.validation_split(*problem["data"][:2], 0.1)[3])
  # Four runs that differ in every hyperparameter and in the seed.
  for i in (0, 6, 9, 15):
    oracle = hand_written_run(result.configs[i], problem, epochs=3, batch_size=32)
    assert_run_matches(result, i, oracle, val_size)


@pytest.mark.parametrize("name", list(GRID))
def test_changing_one_grid_value_changes_that_runs_results(problem, indian, name):
  grid = {k: v[:1] for k, v in GRID.items()} | {name: GRID[name]}
  result = app.sweep(indian, grid, epochs=2, batch_size=32, **problem)
  assert [c[name] for c in result.configs] == GRID[name]
  assert not np.allclose(result.train_loss[0], result.train_loss[1], rtol=1e-4)


@pytest.mark.slow
def test_a_setting_gives_the_same_bits_alone_and_inside_a_grid(problem, indian):
  """At the same width (here "auto": 16 runs per program on a CPU), a run's numbers do not
  depend on the other runs of its program. Two values of every hyperparameter, two seeds."""
  kwargs = dict(epochs=3, batch_size=32, seeds=[0, 3], **problem)
  grid = app.sweep(indian, GRID, **kwargs)
  for point in ({"alpha": 1.0, "beta": 0.2, "learning_rate": 0.05},
                {"alpha": 0.3, "beta": 0.7, "learning_rate": 0.2}):  # fmt: skip
    alone = app.sweep(indian, {k: [v] for k, v in point.items()}, **kwargs)
    inside = grid.where(**point)
    for field in ("train_loss", "val_loss", "test_accuracy", "final_train_loss"):
      np.testing.assert_array_equal(getattr(inside, field), getattr(alone, field))


@pytest.mark.slow
def test_same_seed_same_numbers_and_seeds_matter(problem, indian):
  first = app.sweep(indian, GRID, epochs=2, batch_size=32, seeds=[0, 1], **problem)
  again = app.sweep(indian, GRID, epochs=2, batch_size=32, seeds=[0, 1], **problem)
  np.testing.assert_array_equal(first.train_loss, again.train_loss)
  assert not np.array_equal(first.train_loss[0], first.train_loss[1])


def test_a_diverging_learning_rate_is_an_outcome_not_a_chance_level_score(problem, indian):
  grid = {"alpha": [0.3], "beta": [0.2], "learning_rate": [0.05, 0.2, 1e4]}
  reports = []
  result = app.sweep(indian, grid, epochs=3, batch_size=32, seeds=[0, 1],
                     on_epoch=reports.append, **problem)  # fmt: skip
  diverged = [i for i, c in enumerate(result.configs) if c["learning_rate"] == 1e4]
  for i in range(len(result.configs)):
    if i in diverged:
      epoch = result.diverged_at[i]
      assert epoch is not None
      for metrics in (result.train_loss, result.val_accuracy, result.test_accuracy):
        assert np.all(np.isnan(metrics[i][epoch - 1 :]))
        assert np.all(np.isfinite(metrics[i][: epoch - 1]))
      assert np.isnan(result.final_test_accuracy[i]) and np.isnan(result.final_train_loss[i])
    else:
      assert result.diverged_at[i] is None and np.all(np.isfinite(result.train_loss[i]))
  assert sorted(result.ranking()[-2:]) == diverged
  assert result.best()["learning_rate"] != 1e4
  assert result.ranked_settings()[-1].diverged == 2
  assert reports[-1].diverged == 2 and math.isfinite(reports[-1].live_loss)


@pytest.mark.slow
def test_the_test_labels_are_never_read_to_choose(problem, indian):
  x_train, y_train, x_test, y_test = problem["data"]
  shuffled = np.random.default_rng(1).permutation(y_test)
  shuffled_problem = dict(problem, data=(x_train, y_train, x_test, shuffled))
  grid = {"alpha": [0.3, 1.0], "beta": [0.2, 0.7], "learning_rate": [0.02, 0.2]}
  for select in ("val_accuracy", "train_loss"):
    result = app.sweep(indian, grid, epochs=2, batch_size=32, select=select, **problem)
    other = app.sweep(indian, grid, epochs=2, batch_size=32, select=select, **shuffled_problem)
    assert not np.array_equal(result.test_accuracy, other.test_accuracy)
    assert result.ranking() == other.ranking()
    chosen = {k: v for k, v in result.best().items() if not k.startswith("final_test")}
    assert chosen == {k: v for k, v in other.best().items() if not k.startswith("final_test")}


def test_train_loss_selection_ranks_by_the_final_training_loss(problem, indian):
  result = app.sweep(indian, GRID, epochs=2, batch_size=32, select="train_loss", **problem)
  losses = [result.final_train_loss[i] for i in result.ranking()]
  assert losses == sorted(losses)
  assert result.best()["final_train_loss"] == min(result.final_train_loss)


@pytest.mark.slow
def test_a_validation_set_of_its_own_holds_nothing_out_and_matches_the_oracle(problem, indian):
  x, y, x_test, y_test = problem["data"]
  validation = (x_test[:20], y_test[:20])
  result = app.sweep(
    indian, GRID, epochs=2, batch_size=32, validation=validation, select="val_loss", **problem
  )
  for i in (0, 5):
    oracle = hand_written_run(
      result.configs[i], problem, epochs=2, batch_size=32, validation=validation
    )
    assert_run_matches(result, i, oracle, val_size=20)
  losses = [result.final_val_loss[i] for i in result.ranking()]
  assert losses == sorted(losses)


@pytest.mark.slow
def test_held_out_sets_are_evaluated_in_blocks_with_the_same_numbers(
  monkeypatch, problem64, indian
):
  """Blocks bound the memory of evaluation; 7 divides none of the sets, so a remainder shows."""
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, **problem64)
  monkeypatch.setattr(engine, "EVAL_BLOCK", 7)
  blocks = app.sweep(indian, GRID, epochs=2, batch_size=32, **problem64)
  for name in ("val_loss", "test_loss", "val_accuracy", "test_accuracy", "final_train_loss"):
    np.testing.assert_allclose(getattr(blocks, name), getattr(whole, name), rtol=1e-12)


def test_no_validation_split_leaves_validation_metrics_unknown(problem, indian):
  result = app.sweep(indian, GRID, epochs=1, batch_size=32, val_fraction=0.0,
                     select="train_loss", **problem)  # fmt: skip
  assert np.all(np.isnan(result.val_accuracy)) and np.all(np.isnan(result.val_loss))
  assert np.all(np.isfinite(result.test_loss))


# ---------------------------------------------------------------- chunks and resumption
def test_chunks_give_the_same_results_as_one_program_and_report_each_epoch(problem64, indian):
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=None, **problem64)
  reports = []
  chunked = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=3,
                      on_epoch=reports.append, **problem64)  # fmt: skip
  assert [(r.chunk, r.epoch) for r in reports] == [(c, e) for c in range(3) for e in range(2)]
  assert {r.chunks for r in reports} == {3} and {r.runs for r in reports} == {8}
  assert [r.done for r in reports] == list(range(1, 7)) and {r.total for r in reports} == {6}
  assert chunked.configs == whole.configs
  np.testing.assert_allclose(chunked.final_train_loss, whole.final_train_loss, rtol=1e-10)


def test_a_resumed_sweep_equals_the_uninterrupted_one(problem, indian):
  partials = []
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=3,
                    on_chunk=partials.append, **problem)  # fmt: skip
  assert [len(p.configs) for p in partials] == [3, 6, 8]
  assert [p.complete for p in partials] == [False, False, True]
  resumed_chunks = []
  resumed = app.sweep(
    indian, GRID, epochs=2, batch_size=32, chunk_size=3, resume_from=partials[0],
    on_epoch=resumed_chunks.append, **problem,
  )  # fmt: skip
  assert {r.chunk for r in resumed_chunks} == {1, 2}, "the saved chunk is not trained again"
  for field in ("train_loss", "val_accuracy", "test_accuracy", "final_train_loss"):
    np.testing.assert_array_equal(getattr(resumed, field), getattr(whole, field))
  with pytest.raises(ValueError, match="does not hold whole chunks of this sweep"):
    app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=4, resume_from=partials[0],
              **problem)  # fmt: skip


def test_a_resumed_multi_seed_sweep_reports_its_true_total(problem, indian):
  """3 seeds, one run per program, resumed after 1 of 6 runs: 5 programs of 2 epochs are
  left, and the progress says so from its first epoch to its last."""
  grid = {"alpha": [0.5, 1.0], "beta": [0.1], "learning_rate": [0.1]}
  partials = []
  app.sweep(indian, grid, epochs=2, batch_size=32, seeds=[0, 1, 2], chunk_size=1,
            on_chunk=partials.append, **problem)  # fmt: skip
  reports = []
  app.sweep(indian, grid, epochs=2, batch_size=32, seeds=[0, 1, 2], chunk_size=1,
            resume_from=partials[0], on_epoch=reports.append, **problem)  # fmt: skip
  assert {r.total for r in reports} == {10}
  assert [r.done for r in reports] == list(range(1, 11))


def test_auto_chunks_keep_a_fixed_width_on_a_cpu_and_one_run_for_compute_bound_models(problem):
  cpu = jax.devices("cpu")  # the rule is the CPU's, whatever the default backend here
  small = problem["init_params"]  # 5-16-4: overhead-bound, vmapped
  assert app.auto_chunk_size(small, 32, 3, cpu) == app.auto_chunk_size(small, 32, 300, cpu) == 16
  big = lambda key: {"w": jax.random.normal(key, (1000, 1000))}  # 1e6 params x 32
  assert app.auto_chunk_size(big, 32, 16, cpu) == 1
  accelerator = [types.SimpleNamespace(platform="gpu")]
  assert app.auto_chunk_size(big, 32, 16, accelerator) == 16


@pytest.mark.parametrize("name, width", [("mlp", 16), ("cnn", 1)])
def test_auto_runs_the_commands_mlps_vmapped_and_convolutions_one_at_a_time_on_a_cpu(name, width):
  """As measured (benchmarks/sweep_throughput.py): vmapped MLPs beat a loop at every size the
  command trains, vmapped convolutions ran at 0.40x and 0.85x a loop."""
  cpu = jax.devices("cpu")
  model = app.models.make_model(name, (40, 1), 10)  # MNIST-1D's
  sample = jax.ShapeDtypeStruct((40, 1), np.float32)
  chosen = app.auto_chunk_size(model.init, 64, 48, cpu, model.apply, sample)
  assert chosen == width


def test_auto_chunking_gives_the_results_of_one_program(float64, problem64, indian, monkeypatch):
  """With auto choosing one configuration per program, the runs equal one vmapped program."""
  monkeypatch.setattr(sweep_module, "AUTO_CPU_WORK", 0)  # every model is compute-bound
  cpu = jax.devices("cpu")
  assert app.auto_chunk_size(problem64["init_params"], 32, 4, cpu) == 1
  auto = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size="auto", devices=cpu,
                   **problem64)  # fmt: skip
  whole = app.sweep(indian, GRID, epochs=2, batch_size=32, chunk_size=None, devices=cpu,
                    **problem64)  # fmt: skip
  np.testing.assert_allclose(auto.final_train_loss, whole.final_train_loss, rtol=1e-10)
  with pytest.raises(ValueError, match="chunk_size must be an integer, None or 'auto'"):
    app.sweep(indian, GRID, epochs=1, batch_size=32, chunk_size="big", **problem64)


# ---------------------------------------------------------------- successive halving
HALVING_GRID = {"alpha": [0.3, 1.0, 2.0], "beta": [0.2, 0.7, 1.5], "learning_rate": [0.05]}


def halved(problem, indian, grid=HALVING_GRID, **kwargs):
  arguments = dict(epochs=4, batch_size=32, seeds=[0, 1], halving=3) | kwargs
  return app.sweep(indian, grid, **problem, **arguments)


@pytest.mark.parametrize(
  "select, higher_is_better",
  [("val_accuracy", True), ("val_loss", False), ("train_loss", False)],
)
def test_each_rung_keeps_the_best_third_of_the_settings_with_their_seeds(
  problem, indian, select, higher_is_better
):
  result = halved(problem, indian, select=select)
  trained = np.asarray(result.epochs_trained)
  assert sorted(trained) == [1] * 12 + [4] * 6  # 9 settings x 2 seeds; ceil(9 / 3) continue
  names = list(HALVING_GRID)
  kept = [c for c, epochs in zip(result.configs, trained, strict=True) if epochs == 4]
  survivors = {tuple(c[k] for k in names) for c in kept}
  # The survivors are the best settings by the mean over seeds of the selection metric
  # after the rung (the epoch's training loss stands in for the final one).
  after_rung = {}
  for config, score in zip(result.configs, getattr(result, select)[:, 0], strict=True):
    after_rung.setdefault(tuple(config[k] for k in names), []).append(score)
  sign = -1 if higher_is_better else 1
  ranked = sorted(after_rung, key=lambda s: sign * np.mean(after_rung[s]))
  assert survivors == set(ranked[:3])
  for i in np.flatnonzero(trained == 1):
    assert np.all(np.isnan(result.train_loss[i, 1:])), "later epochs are absent"
    assert result.diverged_at[i] is None
  assert all(s.trained_to_end for s in result.ranked_settings()[:3])


def test_halving_equals_the_full_sweep_for_what_it_trained(problem64, indian):
  full = app.sweep(indian, HALVING_GRID, epochs=4, batch_size=32, seeds=[0, 1], **problem64)
  cut = halved(problem64, indian)
  assert cut.configs == full.configs
  for i, epochs in enumerate(cut.epochs_trained):
    np.testing.assert_allclose(cut.train_loss[i, :epochs], full.train_loss[i, :epochs], rtol=1e-10)
    np.testing.assert_array_equal(cut.val_accuracy[i, :epochs], full.val_accuracy[i, :epochs])
    if epochs == 4:
      np.testing.assert_allclose(cut.final_train_loss[i], full.final_train_loss[i], rtol=1e-10)


@pytest.mark.slow
def test_halving_is_deterministic_and_chunks_change_nothing_but_the_last_bits(problem, indian):
  first, again = halved(problem, indian), halved(problem, indian)
  chunked = halved(problem, indian, chunk_size=5)
  np.testing.assert_array_equal(first.epochs_trained, again.epochs_trained)
  np.testing.assert_array_equal(first.train_loss, again.train_loss)
  np.testing.assert_array_equal(first.epochs_trained, chunked.epochs_trained)
  np.testing.assert_allclose(first.train_loss, chunked.train_loss, rtol=1e-6)


def test_the_progress_of_a_halving_sweep_counts_its_own_epochs(problem, indian):
  """18 runs in groups of 16: 2 groups x 1 epoch, then 6 survivors: 1 group x 3 epochs."""
  reports = []
  halved(problem, indian, on_epoch=reports.append)
  assert [r.done for r in reports] == list(range(1, 6))
  assert {r.total for r in reports} == {5}
  assert [(r.chunk, r.chunks) for r in reports] == [(0, 2), (1, 2), (0, 1), (0, 1), (0, 1)]


def test_diverged_settings_stop_at_the_next_rung_whatever_their_rank(problem, indian):
  grid = {"alpha": [0.3, 1.0], "beta": [0.2], "learning_rate": [0.05, 0.2, 1e6]}
  # eta just above 1 keeps every finite setting: only divergence stops a run here.
  result = halved(problem, indian, grid=grid, halving=1.01, rungs=[2], epochs=3)
  for config, epochs, diverged in zip(
    result.configs, result.epochs_trained, result.diverged_at, strict=True
  ):
    if config["learning_rate"] == 1e6:
      assert diverged is not None and epochs == 2
    else:
      assert diverged is None and epochs == 3
  assert result.best()["learning_rate"] != 1e6


def test_rung_schedules(problem, indian):
  assert engine.rung_epochs(4, 3) == [1]
  assert engine.rung_epochs(12, 3) == [1, 4]
  assert engine.rung_epochs(15, 3) == [2, 5]
  assert engine.rung_epochs(9, 3) == [1, 3]  # epochs / eta^2 lands exactly on epoch 1
  assert engine.rung_epochs(12, 2, [3, 6, 9]) == [3, 6, 9]
  with pytest.raises(ValueError, match="halving must be > 1"):
    engine.rung_epochs(12, 1.0)
  with pytest.raises(ValueError, match=r"rungs must be epochs from 1 to 11"):
    engine.rung_epochs(12, 3, [12])
  with pytest.raises(ValueError, match="resume_from is not supported with halving"):
    halved(problem, indian, resume_from=halved(problem, indian))
  with pytest.raises(ValueError, match="rungs need halving"):
    app.sweep(indian, GRID, epochs=2, batch_size=32, rungs=[1], **problem)


def survivors(scores, losses=None, diverged=None, seeds=1, eta=3.0):
  """The surviving settings' lr values after a rung (one score per run, higher better)."""
  runs = len(scores)
  configs = [{"lr": v, "seed": s} for v in range(runs // seeds) for s in range(seeds)]
  losses = np.ones(runs) if losses is None else np.asarray(losses, float)
  diverged = np.zeros(runs, bool) if diverged is None else np.asarray(diverged)
  kept = engine.survivors(configs, list(range(runs)), np.asarray(scores, float), losses,
                          diverged, eta)  # fmt: skip
  return sorted({configs[r]["lr"] for r in kept})


@pytest.mark.parametrize(
  "settings, eta, kept", [(10, 3.0, 4), (5, 2.0, 3), (7, 3.0, 3), (2, 3.0, 1)]
)
def test_a_rung_keeps_ceil_n_over_eta_settings(settings, eta, kept):
  assert len(survivors(np.arange(settings, dtype=float), eta=eta)) == kept


def test_a_rung_keeps_the_best_settings_by_their_mean_over_three_seeds_not_the_median():
  # lr 0: seeds 0.9, 0.9, 0.0 (median 0.9, mean 0.6); lr 1: 0.7 each (mean 0.7).
  assert survivors([0.9, 0.9, 0.0, 0.7, 0.7, 0.7], seeds=3, eta=2.0) == [1]


def test_a_setting_with_one_diverged_seed_of_several_stops_at_the_rung():
  scores = [0.99, 0.99, 0.5, 0.5, 0.1, 0.1]  # lr 0 is best on its scores, but seed 1 diverged
  diverged = [False, True, False, False, False, False]
  assert survivors(scores, diverged=diverged, seeds=2, eta=1.5) == [1, 2]
  assert survivors(scores, diverged=diverged, seeds=2, eta=1.01) == [1, 2]  # room for all three
  assert survivors([0.99, np.nan, 0.5, 0.5], seeds=2, eta=2.0) == [1]  # a NaN score too


def test_equal_scores_at_a_rung_go_to_the_lower_training_loss():
  assert survivors([0.8, 0.8, 0.8], losses=[0.5, 0.2, 0.9], eta=3.0) == [1]


# ---------------------------------------------------------------- arguments
def test_the_validation_split_is_seeded_stratified_and_disjoint():
  y = np.repeat(np.arange(4), [100, 50, 30, 20])
  x = np.arange(len(y))
  x_train, y_train, x_val, y_val = app.validation_split(x, y, 0.1, seed=3)
  assert sorted(np.concatenate([x_train, x_val])) == list(x)
  assert list(np.bincount(y_val)) == [10, 5, 3, 2]
  again = app.validation_split(x, y, 0.1, seed=3)[2]
  np.testing.assert_array_equal(x_val, again)
  assert not np.array_equal(x_val, app.validation_split(x, y, 0.1, seed=4)[2])
  assert len(app.validation_split(x, y, 0.0)[2]) == 0


def test_grid_points_vary_seeds_fastest():
  points = app.grid_points({"alpha": [1, 2], "beta": [3]}, [0, 5])
  assert points == [
    {"alpha": 1, "beta": 3, "seed": 0},
    {"alpha": 1, "beta": 3, "seed": 5},
    {"alpha": 2, "beta": 3, "seed": 0},
    {"alpha": 2, "beta": 3, "seed": 5},
  ]


def test_the_top_level_names_lead_to_the_app():
  assert indian_optax.sweep is app.sweep and indian_optax.SweepResult is app.SweepResult


def test_a_batch_as_large_as_the_training_split_is_one_minibatch(problem, indian):
  """135 training samples (200 x 0.75, 10 % held out per class): a batch of 135 fits."""
  train = sweep_module.training_split_size(problem["data"][1], 0.1)
  assert train == 135
  result = app.sweep(indian, {k: v[:1] for k, v in GRID.items()}, epochs=1, batch_size=train,
                     **problem)  # fmt: skip
  assert np.all(np.isfinite(result.train_loss))
  sweep_module.check_batch_size(train, train)
  with pytest.raises(sweep_module.SweepArgumentError, match="batch_size 136 exceeds the 135"):
    sweep_module.check_batch_size(train + 1, train)


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(grid={}), "the grid is empty"),
    (dict(grid={"alpha": []}), "no values for 'alpha'"),
    (dict(epochs=0), "epochs must be >= 1, got 0"),
    (dict(batch_size=0), "batch_size must be >= 1, got 0"),
    (dict(batch_size=1000), "batch_size 1000 exceeds the 135 training samples"),
    (dict(seeds=[]), "seeds is empty"),
    (dict(seeds=[-1]), r"seeds must be integers in \[0, 2\*\*32\), got -1"),
    (dict(seeds=[2**32]), "seeds must be integers"),
    (dict(seeds=[1, 1]), "seeds must be distinct"),
    (dict(select="test_accuracy"), "select must be one of val_accuracy, train_loss, val_loss"),
    (dict(val_fraction=1.0), r"val_fraction must be in \[0, 1\)"),
    (dict(val_fraction=0.0), "select='val_accuracy' needs a validation split"),
    (dict(val_fraction=0.0, select="val_loss"), "select='val_loss' needs a validation split"),
    (dict(val_fraction=0.2, validation=(np.zeros((4, 5)), np.zeros(4))), "not both"),
    (dict(validation=(np.zeros((4, 5)), np.zeros(3))), "validation has 4 inputs but 3 labels"),
  ],
)
def test_bad_sweep_arguments(problem, indian, kwargs, message):
  arguments = dict(grid=GRID, epochs=1, batch_size=32, **problem) | kwargs
  with pytest.raises(ValueError, match=message):
    app.sweep(indian, **arguments)


def test_results_with_another_number_of_rows_are_refused(problem):
  result = app.sweep(lambda alpha: indian_optax.indian(0.1, alpha), {"alpha": [0.3]}, epochs=1,
                     batch_size=32, **problem)  # fmt: skip
  with pytest.raises(ValueError, match="one row per run"):
    dataclasses.replace(result, diverged_at=[None, None])

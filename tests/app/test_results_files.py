"""results.json and results.csv: the documented schema, round trips, versions, atomic writes."""

import dataclasses
import json
import math

import numpy as np
import pytest

from indian_optax.app import Metadata, SweepResult, results, results_files
from indian_optax.app.results import HalvingRecord

METADATA = Metadata(
  command="sweep", dataset="digits", model="mlp", arguments=("sweep", "--alpha", "0.5,2"),
  options={"alpha": [0.5, 2.0], "epochs": 2, "batch_size": 64, "seed": 0, "val_fraction": 0.1},
  halving=HalvingRecord(3.0, (1,)), files=("results.json", "results.csv"),
)  # fmt: skip


@pytest.fixture
def original(make_result):
  return make_result(
    [{"optimizer": "indian", "alpha": 0.5, "seed": 0}, {"optimizer": "indian", "alpha": 2.0,
                                                       "seed": 0}],
    [0.875, math.nan], [0.25, math.nan], diverged_at=[None, 2],
    val_loss=np.array([[1.5, 0.75], [1.0, math.nan]]), metadata=METADATA,
  )  # fmt: skip


def test_save_and_load_round_trip_every_field(tmp_path, original):
  written = original.save(tmp_path)
  assert [p.name for p in written] == ["results.json", "results.csv"]
  loaded = SweepResult.load(tmp_path)
  assert loaded.configs == original.configs and loaded.diverged_at == [None, 2]
  assert loaded.epochs == 2 and loaded.metadata == original.metadata
  for field in ("train_loss", "val_accuracy", "test_accuracy", "val_loss", "test_loss",
                "final_train_loss", "epochs_trained"):  # fmt: skip
    np.testing.assert_array_equal(getattr(loaded, field), getattr(original, field))
  assert loaded.best() == original.best()


def test_the_json_has_the_documented_keys_in_order(tmp_path, original):
  original.save(tmp_path)
  document = json.loads((tmp_path / "results.json").read_text())
  assert list(document) == [
    "format", "version", "complete", "command", "dataset", "model", "epochs", "batch_size", "seed",
    "val_fraction", "arguments", "options", "files", "halving", "selection", "devices", "best",
    "chosen", "warnings", "runs",
  ]  # fmt: skip
  assert (document["format"], document["version"]) == ("indian-optax-results", 3)
  assert document["selection"] == {"metric": "val_accuracy", "split": "validation"}
  assert document["halving"] == {"eta": 3.0, "rungs": [1]}
  assert (
    document["runs"][1]["final_val_accuracy"] is None and document["runs"][1]["diverged_at"] == 2
  )
  assert document["runs"][0]["final_val_loss"] == 0.75
  csv_lines = (tmp_path / "results.csv").read_text().splitlines()
  assert csv_lines[0].startswith("optimizer,alpha,seed,diverged_at,epochs_trained")
  assert csv_lines[2].endswith(",2,2,,,,,")


def test_a_library_result_saves_without_the_commands_metadata(tmp_path, make_result):
  r = make_result([{"alpha": 0.5, "seed": 0}], [0.875], [0.25])
  r.save(tmp_path)
  document = json.loads((tmp_path / "results.json").read_text())
  assert "command" not in document and document["epochs"] == 2
  assert SweepResult.load(tmp_path).metadata is None


def test_files_of_version_2_load_with_unknown_validation_and_test_losses(make_result):
  document = results.to_json(make_result([{"alpha": 0.5, "seed": 0}], [0.875], [0.25]))
  for run in document["runs"]:  # a version-2 file: no loss histories on held-out data
    del run["history"]["val_loss"], run["history"]["test_loss"]
  loaded = results.from_json(document | {"version": 2})
  assert loaded.val_loss.shape == (1, 2) and np.all(np.isnan(loaded.val_loss))


@pytest.mark.parametrize(
  "version, message",
  [
    (4, "written by a newer indian-optax (results format version 4; this one reads versions 2 to "
        "3): upgrade indian-optax to read it"),
    (1, "unknown results format version 1"),
    ("3", "unknown results format version '3'"),
    (None, "unknown results format version None"),
  ],
)  # fmt: skip
def test_a_version_it_cannot_read_is_refused_with_the_reason(
  tmp_path, make_result, version, message
):
  document = results.to_json(make_result([{"alpha": 0.5, "seed": 0}], [0.875], [0.25]))
  (tmp_path / "results.json").write_text(json.dumps(document | {"version": version}))
  with pytest.raises(ValueError, match="results file") as caught:
    SweepResult.load(tmp_path)
  assert message in str(caught.value)
  with pytest.raises(results.FormatVersionError):
    results.from_json(document | {"version": version})


def test_loading_something_else_says_what_is_wrong(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    SweepResult.load(tmp_path / "nothing")
  (tmp_path / "results.json").write_text('{"format": "other"}')
  with pytest.raises(ValueError, match="not a readable indian-optax results file"):
    SweepResult.load(tmp_path)


def test_results_json_is_replaced_whole_never_written_in_place(tmp_path, monkeypatch, make_result):
  """A failure before the rename leaves the previous results.json as it was, and no half file."""
  make_result([{"lr": 0.1, "seed": 0}], [0.8], [0.5]).save(tmp_path)
  before = (tmp_path / "results.json").read_bytes()
  replace = results_files.os.replace

  def fail(source, target):
    if str(target).endswith("results.json"):
      raise OSError("disk full")
    return replace(source, target)

  monkeypatch.setattr(results_files.os, "replace", fail)
  with pytest.raises(OSError, match="disk full"):
    make_result([{"lr": 1.0, "seed": 0}], [0.9], [0.4]).save(tmp_path)
  assert (tmp_path / "results.json").read_bytes() == before
  assert json.loads(before)["runs"][0]["lr"] == 0.1


def growing(make_result, runs):
  """A result of ``runs`` runs, two optimizers whose hyperparameters differ (as compare's)."""
  configs = [{"optimizer": "sgd", "learning_rate": 0.1, "seed": i} for i in range(runs // 2)]
  configs += [{"optimizer": "indian", "alpha": 0.5, "learning_rate": 0.1, "seed": i}
              for i in range(runs - runs // 2)]  # fmt: skip
  return make_result(configs, np.linspace(0.5, 0.9, runs), np.linspace(1, 0.1, runs),
                     metadata=METADATA)  # fmt: skip


def test_saves_after_each_chunk_write_what_one_save_of_the_whole_writes(tmp_path, make_result):
  """The saver turns each run into text once; its files say what a save of the whole says."""
  whole = growing(make_result, 9)
  saver = results.Saver()
  for end in (2, 5, 9):  # three chunks, the second optimizer's keys arriving in the third
    saver.save(whole.take(range(end)), tmp_path / "chunks")
  whole.save(tmp_path / "once")
  chunks, once = (
    json.loads((tmp_path / d / "results.json").read_text()) for d in ("chunks", "once")
  )
  strip = lambda runs: [{k: v for k, v in r.items() if v is not None} for r in runs]
  assert strip(chunks.pop("runs")) == strip(once.pop("runs")) and chunks == once
  csv = lambda d: (tmp_path / d / "results.csv").read_text()
  assert csv("chunks") == csv("once")


def test_an_incomplete_result_is_saved_without_its_summary(tmp_path, make_result):
  """best, chosen and warnings are computed once, for the complete result."""
  result = growing(make_result, 4)
  results.save(dataclasses.replace(result, complete=False), tmp_path)
  document = json.loads((tmp_path / "results.json").read_text())
  assert (document["best"], document["chosen"], document["warnings"]) == (None, {}, [])
  results.save(result, tmp_path)
  assert json.loads((tmp_path / "results.json").read_text())["best"] == result.best()


def test_a_tunings_ranges_are_saved_and_loaded(tmp_path, make_result):
  ranges = {"alpha": {"low": 0.05, "high": 5.0, "log": True}}
  meta = Metadata("tune", "digits", "mlp", ("tune",), {}, ranges=ranges)
  make_result([{"trial": 0, "alpha": 0.5, "seed": 0}], [0.875], [0.25], metadata=meta).save(
    tmp_path
  )
  assert json.loads((tmp_path / "results.json").read_text())["ranges"] == ranges
  assert SweepResult.load(tmp_path).metadata.ranges == ranges

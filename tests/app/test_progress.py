"""The command's progress bar follows the engine's plan and hands on a held-back Ctrl-C."""

import io

import pytest

from indian_optax.app import interrupts, progress
from indian_optax.app.engine import EpochProgress


def report(done, total=6, loss=0.5):
  return EpochProgress(0, 2, done - 1, loss, 0, 4, done, total)


def test_the_bar_follows_the_planned_total_and_the_epochs_done(monkeypatch):
  monkeypatch.setattr(progress.sys, "stderr", io.StringIO())
  with progress.ProgressBar("indian", sweeps=2) as bar:
    bar(report(1))
    bar(report(2, total=4))  # halving cut settings: the plan shrank
    assert (bar.bar.n, bar.bar.total) == (2, 4)
    assert bar.bar.desc.startswith("indian chunk 1/2")
    bar(report(3, total=4, loss=float("nan")))
    assert "all diverged" in bar.bar.postfix


def test_a_held_back_interrupt_is_raised_at_the_next_epoch(monkeypatch):
  monkeypatch.setattr(progress.sys, "stderr", io.StringIO())
  previous = interrupts.install()
  try:
    with progress.ProgressBar("", sweeps=1) as bar:
      bar(report(1))
      interrupts._state["pending"] = True  # as a signal caught in a gc callback leaves it
      with pytest.raises(KeyboardInterrupt):
        bar(report(2))
  finally:
    interrupts.restore(previous)

"""The command's signal handling (``indian_optax.app.interrupts``): a Ctrl-C is never lost, and
never lands in the middle of a save."""

import gc
import signal
import sys
import weakref

import pytest

from indian_optax.app import interrupts


@pytest.fixture
def handled():
  previous = interrupts.install()
  yield
  interrupts.restore(previous)


def test_a_signal_raises_at_once(handled):
  after = []
  with pytest.raises(KeyboardInterrupt):
    signal.raise_signal(signal.SIGINT)
    after.append("went on")
  assert after == []


def test_a_signal_during_a_save_is_raised_when_the_save_ends(handled):
  finished = []
  with pytest.raises(KeyboardInterrupt):
    with interrupts.deferred():
      signal.raise_signal(signal.SIGTERM)
      finished.append("the save")
  assert finished == ["the save"]


def test_a_signal_in_a_gc_callback_is_kept_for_the_next_check(handled, monkeypatch):
  """JAX registers a gc callback: a KeyboardInterrupt raised there is printed as 'Exception
  ignored' with a traceback and lost, and the command used to run to its end."""
  unraisable = []
  monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

  def callback(phase, info):
    if phase == "start":
      signal.raise_signal(signal.SIGINT)

  gc.callbacks.append(callback)
  try:
    gc.collect()
  finally:
    gc.callbacks.remove(callback)
  assert unraisable == [], "raised inside the callback, where Python drops it"
  with pytest.raises(KeyboardInterrupt):
    interrupts.check()


def test_a_signal_in_a_weak_reference_callback_is_kept_for_the_next_check(handled, monkeypatch):
  """A weak dictionary's ``remove`` runs when its key dies: a KeyboardInterrupt raised there is
  printed as 'Exception ignored' with a traceback (seen in a tuning run's stderr)."""
  unraisable = []
  monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

  class Key:
    def __del__(self):
      signal.raise_signal(signal.SIGINT)

  table = weakref.WeakKeyDictionary()
  key = Key()
  table[key] = 1
  weakref.finalize(key, signal.raise_signal, signal.SIGINT)
  del key
  assert unraisable == [], "raised inside the callback, where Python drops it"
  with pytest.raises(KeyboardInterrupt):
    interrupts.check()


def test_nothing_pending_after_install(handled):
  interrupts.check()
  with interrupts.deferred():
    pass

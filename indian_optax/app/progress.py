"""The command's progress bar: one per sweep, fed by the engine's :class:`EpochProgress`."""

import math
import sys
from typing import Any

from tqdm.auto import tqdm

from indian_optax.app import interrupts
from indian_optax.app.engine import EpochProgress


class ProgressBar:
  """A tqdm bar over a sweep's group-epochs, with the live loss and the diverged runs.

  The engine says how many group-epochs the sweep plans (``EpochProgress.total``, which
  halving lowers when a setting stops early); the bar follows it.
  """

  def __init__(self, name: str, sweeps: int):
    self.name = name if sweeps > 1 else ""
    self.bar: Any = None

  def __enter__(self) -> "ProgressBar":
    self.bar = tqdm(total=None, unit="epoch", file=sys.stderr, dynamic_ncols=True)
    return self

  def __call__(self, progress: EpochProgress) -> None:
    if progress.done < self.bar.n:  # a new program (tune's next batch): the bar starts over
      self.bar.reset()
    if self.bar.total != progress.total:
      self.bar.total = progress.total
    prefix = f"{self.name} " if self.name else ""
    self.bar.set_description(f"{prefix}chunk {progress.chunk + 1}/{progress.chunks}")
    loss = "all diverged" if math.isnan(progress.live_loss) else f"{progress.live_loss:.4f}"
    self.bar.set_postfix_str(f"live loss {loss}, diverged {progress.diverged}/{progress.runs}")
    self.bar.update(progress.done - self.bar.n)
    interrupts.check()  # a Ctrl-C that landed where Python could not raise it

  def __exit__(self, *exc: Any) -> None:
    self.bar.close()

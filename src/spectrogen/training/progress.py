"""What the user sees while training: one line per epoch, and a progress bar with the current losses
on an interactive terminal (not with `--quiet`, nor when CI is set)."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional, Sequence

from tqdm import tqdm

# statistics shown in the bar and the epoch line, in this order, when the method reports them
SHOWN = ("loss_g", "loss_d", "loss", "val_loss", "d_real", "d_fake")


def summary(values: Mapping[str, float], limit: int = 4) -> str:
    """Returns `key=value` pairs of the most telling statistics in `values`."""
    keys = [key for key in SHOWN if key in values][:limit]
    return " ".join(f"{key}={values[key]:.4g}" for key in keys)


def epoch_line(row: Mapping[str, float], epochs: int, left: str = "", flags: Sequence[str] = ()) -> str:
    """Returns the log line of one epoch: its statistics, time and speed, the time `left`, then `flags`."""
    text = (f"epoch {row['epoch']}/{epochs}  {summary(row)}  {row['seconds']:.1f}s  "
            f"{row['samples_per_s']:.0f} samples/s" + (f"  ({left})" if left else ""))
    return "  ".join([text, *flags])


class Progress:
    """The progress bar of one epoch at a time, and the log lines."""

    def __init__(self, quiet: bool, epochs: int, muted: bool = False):
        # muted: a training process other than rank 0 shows nothing, so lines are not printed N times
        self.muted = muted
        self.enabled = not (quiet or muted) and sys.stdout.isatty() and not os.environ.get("CI")
        self.epochs = epochs
        self._bar: Optional[tqdm] = None

    def start_epoch(self, epoch: int, steps: int, done: int = 0) -> None:
        if self.enabled:
            self._bar = tqdm(total=steps, initial=done, desc=f"epoch {epoch}/{self.epochs}", leave=False,
                             dynamic_ncols=True)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def show(self, values: Mapping[str, float]) -> None:
        """Shows the latest interval's statistics in the bar (called once per logging interval)."""
        if self._bar is not None:
            self._bar.set_postfix_str(summary(values), refresh=False)

    def end_epoch(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def log(self, message: str) -> None:
        if self.muted:
            return
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message, flush=True)

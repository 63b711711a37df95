"""What the user sees while training: a progress bar with the current losses, or one log line per epoch.

The bar appears only on an interactive terminal (not with `--quiet`, not when stdout is a file or
a pipe, not when CI is set); the per-epoch line is printed either way.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional

from tqdm import tqdm

# statistics shown in the bar and the epoch line, in this order, when the method reports them
SHOWN = ("loss_g", "loss_d", "loss", "val_loss", "d_real", "d_fake")


def wants_bar(quiet: bool) -> bool:
    """Returns True when a progress bar helps: an interactive terminal, not quiet, not CI."""
    return not quiet and sys.stdout.isatty() and not os.environ.get("CI")


def summary(values: Mapping[str, float], limit: int = 4) -> str:
    """Returns `key=value` pairs of the most telling statistics in `values`."""
    keys = [key for key in SHOWN if key in values][:limit]
    return " ".join(f"{key}={values[key]:.4g}" for key in keys)


class Progress:
    """The progress bar of one epoch at a time, and the log lines."""

    def __init__(self, quiet: bool, epochs: int, muted: bool = False):
        # muted: a training process other than rank 0 shows nothing, so lines are not printed N times
        self.muted = muted
        self.enabled = wants_bar(quiet) and not muted
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

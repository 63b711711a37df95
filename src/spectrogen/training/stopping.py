"""Reasons to stop a run early and cleanly: the wall-time budget and Ctrl-C (SIGINT).

The first Ctrl-C raises a flag: the step finishes and a resumable checkpoint is written. A second one
interrupts at once, except within REPEATED_SIGNAL_S of the first under torchrun, which forwards the
terminal's signal to its workers again.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Optional

REPEATED_SIGNAL_S = 5.0


class StopRequests:
    """Collects stop requests; use as a context manager around the training loop."""

    def __init__(self, max_minutes: Optional[float], several_processes: bool = False):
        self.deadline = time.monotonic() + 60.0 * max_minutes if max_minutes else None
        self.interrupted = False
        self.repeat_grace = REPEATED_SIGNAL_S if several_processes else 0.0
        self._first_signal = 0.0
        self._previous = None

    @property
    def reason(self) -> Optional[str]:
        """Returns why the run should stop now (None: carry on)."""
        if self.interrupted:
            return "interrupted"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "time limit"
        return None

    def _on_sigint(self, signum, frame) -> None:
        if self.interrupted:
            if time.monotonic() - self._first_signal < self.repeat_grace:
                return
            raise KeyboardInterrupt
        self.interrupted = True
        self._first_signal = time.monotonic()
        print("\nstopping after this step and saving a checkpoint (Ctrl-C again to stop at once)", flush=True)

    def __enter__(self) -> "StopRequests":
        # signal handlers can only be set from the main thread; elsewhere Ctrl-C raises as usual
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

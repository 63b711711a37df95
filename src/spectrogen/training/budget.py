"""Time goes to training: what a run costs, said up front (`RunPlan`), and optional writes during training
(samples, plots, rolling checkpoints) delayed to keep them under SHARE of the wall time (`OverheadBudget`); the
last epoch's and one checkpoint every CHECKPOINT_MINUTES are always written. Nothing here changes a setting."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional

from spectrogen.config.schema import GAN_FAMILIES

SHARE = 0.05  # the most of a run's wall time that samples, plots and checkpoints may take
GRACE_SECONDS = 20.0  # runs shorter than this (training and writes) write everything as configured
CHECKPOINT_MINUTES = 10.0  # a rolling checkpoint is written at least this often (training time)
WARMUP_STEPS = 3  # steps that pay for first-call costs, before TIMED_STEPS are timed
TIMED_STEPS = 10
LONG_MINUTES = 30.0  # an estimate above this on a CPU names a faster setting


@dataclass
class OverheadBudget:
    """Decides whether an optional write during training fits in SHARE of the time so far."""

    share: float = SHARE
    train_seconds: float = 0.0
    extra_seconds: float = 0.0
    last_checkpoint: float = 0.0  # training seconds at the last rolling checkpoint
    cost: dict[str, float] = field(default_factory=dict)  # seconds the latest write of each kind took

    def trained(self, seconds: float) -> None:
        self.train_seconds += seconds

    def allows(self, kind: str = "") -> bool:
        """Returns whether the writes so far and one more of `kind` fit in SHARE of the time (always, at first)."""
        total = self.train_seconds + self.extra_seconds
        expected = self.cost.get(kind, 0.0)  # a write as long as the last one of its kind
        return total < GRACE_SECONDS or self.extra_seconds + expected <= self.share * (total + expected)

    def checkpoint_due(self) -> bool:
        """Returns whether a rolling checkpoint must be written for safety, budget or not."""
        return self.train_seconds - self.last_checkpoint >= 60.0 * CHECKPOINT_MINUTES

    def spent(self, seconds: float, kind: str = "") -> None:
        self.extra_seconds += seconds
        self.cost[kind] = seconds

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        """Counts the time of the block as a write of `kind` beside training."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.spent(time.perf_counter() - began, kind)

    def share_spent(self) -> float:
        """Returns the share of the time so far that went to writes beside training."""
        total = self.train_seconds + self.extra_seconds
        return self.extra_seconds / total if total else 0.0


@dataclass
class RunPlan:
    """Times the first steps of a run and returns the one estimate to print (naming `faster`, a setting about ten
    times faster, for a long CPU run); then the time left per epoch."""

    planned: int
    done: int
    device: str
    faster: Optional[str]
    max_minutes: Optional[float] = None
    seen: int = field(default=0, init=False)
    started: Optional[float] = field(default=None, init=False)
    began: float = field(default_factory=time.perf_counter, init=False)

    def step(self) -> Optional[str]:
        """Counts one step; returns the estimate's line once the first steps are timed, else None."""
        self.seen += 1
        if self.seen == WARMUP_STEPS:
            self.started = time.perf_counter()
        if self.seen != WARMUP_STEPS + TIMED_STEPS or self.started is None:
            return None
        step_seconds = (time.perf_counter() - self.started) / TIMED_STEPS
        left = self.planned - self.done
        minutes = left * step_seconds / 60.0
        line = (f"plan: {left:,} steps to go of {self.planned:,}; about {_duration(minutes)} of training at "
                f"{step_seconds:.2f} s a step (measured over {TIMED_STEPS} steps)")
        if self.max_minutes is not None and minutes > self.max_minutes:
            line += f"; training.max_minutes={self.max_minutes:g} stops it before"
        elif minutes > LONG_MINUTES and self.device == "cpu" and self.faster:
            line += f"; that is long for a CPU: {self.faster} trains about 10x faster"
        return line

    def left(self, epochs_done: int, epochs_planned: int, epochs_started: int) -> str:
        """Returns the wall time left at the pace of the epochs done in this process, e.g. '12 min left'."""
        ran = epochs_done - epochs_started
        if ran <= 0 or epochs_done >= epochs_planned:
            return ""
        per_epoch = (time.perf_counter() - self.began) / ran
        return f"{_duration((epochs_planned - epochs_done) * per_epoch / 60.0)} left"


def _duration(minutes: float) -> str:
    if minutes < 1.0:
        return f"{max(1, round(minutes * 60))} s"
    if minutes < 90.0:
        return f"{minutes:.0f} min"
    return f"{minutes / 60.0:.1f} h"


def faster_setting(name: str, height: int, width: int, features_g: int, features_d: int) -> Optional[str]:
    """Returns flags that make a step of this model about ten times cheaper, or None when none would."""
    # a step's cost grows with the pixels and, for the GANs, with the square of the widths
    flags, factor = [], 1.0
    if max(height, width) >= 64:
        flags.append(f"--image-size {max(height, width) // 2}")
        factor *= 4.0
    if name in GAN_FAMILIES and min(features_g, features_d) >= 16 and factor < 10.0:
        flags.append(f"--features-g {features_g // 2} --features-d {features_d // 2}")
        factor *= 3.0
    return " ".join(flags) if factor >= 8.0 else None

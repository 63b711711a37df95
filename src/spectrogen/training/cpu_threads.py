"""The CPU use of training: intra-op threads as many as the cores other work leaves free (a thread sharing its
core with another process makes every operation wait for it), and each epoch's resource figures. Other processes'
use is the cores' busy time in /proc/stat less this process's CPU time; without /proc/stat torch's count stays."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Optional

import torch

PROBE_SECONDS = 0.25  # the first measurement, before training: long enough for a few scheduler ticks
# later measurements span at least this long (several short epochs): shorter ones flap with other work's bursts
WINDOW_SECONDS = 3.0
# a core counts as free when others use less than this share: a thread beside a third-busy core mostly runs
FREE_MARGIN = 0.4


def usable_cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return list(range(os.cpu_count() or 1))


def busy_seconds(cores: list[int]) -> Optional[float]:
    """Returns the time the `cores` have spent on any work since boot, in seconds (None where unknown)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            lines = handle.read().splitlines()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    wanted = {f"cpu{core}" for core in cores}
    total = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in wanted:
            # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
            values = [int(value) for value in fields[1:9]]
            total += sum(values) - values[3] - values[4]
    return total / ticks


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def threads_for(free_cores: float, cores: int) -> int:
    """Returns the thread count for `free_cores` (cores that other processes leave free) of `cores`."""
    return max(1, min(cores, math.floor(free_cores + FREE_MARGIN)))


class ThreadChooser:
    """Sets torch's intra-op thread count from the cores other work leaves free, epoch by epoch (fixed where
    `threads` is given or OMP_NUM_THREADS is set)."""

    def __init__(self, threads: Optional[int] = None, *, enabled: bool = True):
        self.cores = usable_cores()
        self.initial = torch.get_num_threads()
        self.fixed = threads if threads is not None else (self.initial if os.environ.get("OMP_NUM_THREADS") else None)
        self.enabled = enabled and (self.fixed is not None or busy_seconds(self.cores) is not None)
        self.threads = self.initial
        self._mark: Optional[tuple[float, float, float]] = None
        self._probed = False  # the first measurement (the probe) is taken whatever its length

    def _measure(self) -> None:
        self._mark = (time.perf_counter(), busy_seconds(self.cores) or 0.0, own_cpu_seconds())

    def others_cores(self) -> Optional[float]:
        """Returns how many cores other processes kept busy since the last measurement (None before one)."""
        if self._mark is None:
            return None
        wall, busy, own = self._mark
        elapsed = time.perf_counter() - wall
        if elapsed <= 0:
            return None
        others = ((busy_seconds(self.cores) or 0.0) - busy - (own_cpu_seconds() - own)) / elapsed
        return min(max(others, 0.0), float(len(self.cores)))

    def start(self) -> Optional[str]:
        """Sets the first thread count; returns a line saying so when other work made it fewer than the cores."""
        if not self.enabled:
            return None
        if self.fixed is not None:
            self._set(self.fixed)
            return None
        self._measure()
        time.sleep(PROBE_SECONDS)
        return self.update()

    def update(self) -> Optional[str]:
        """Re-chooses the count from the use of the cores since the last call; returns a line when it changed."""
        if not self.enabled or self.fixed is not None:
            return None
        if self._mark is not None and time.perf_counter() - self._mark[0] < WINDOW_SECONDS and self._probed:
            return None  # the window goes on into the next epoch
        others = self.others_cores()
        self._measure()
        self._probed = True
        if others is None:
            return None
        chosen = threads_for(len(self.cores) - others, len(self.cores))
        if chosen == self.threads:
            return None
        self._set(chosen)
        return (f"other work keeps {others:.1f} of {len(self.cores)} cores busy: training on {chosen} thread"
                f"{'s' if chosen != 1 else ''} (set training.threads to fix the count)")

    def _set(self, count: int) -> None:
        torch.set_num_threads(count)
        self.threads = count

    def close(self) -> None:
        if self.enabled and torch.get_num_threads() != self.initial:
            torch.set_num_threads(self.initial)


def resident_memory_mb() -> Optional[float]:
    """Returns the current resident set size of this process in MB (None where unknown)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def peak_resident_memory_mb() -> Optional[float]:
    """Returns the peak resident set size of this process so far in MB (None where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class ResourceMonitor:
    """Measures one epoch at a time: `start()` before the first step, `finish(steps, examples)` after."""

    def __init__(self, device: torch.device):
        self.device = device
        self._wall = 0.0
        self._cpu = 0.0
        self._train_seconds = 0.0

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._wall = time.perf_counter()
        self._cpu = own_cpu_seconds()
        self._train_seconds = 0.0

    def add_train_time(self, seconds: float) -> None:
        """Counts `seconds` spent in optimisation steps (the rest of the epoch is sampling and saving)."""
        self._train_seconds += seconds

    def finish(self, steps: int, examples: int) -> dict[str, float]:
        """Returns the epoch's figures: seconds, samples_per_s, step_time_ms, cpu_percent, memory."""
        wall = time.perf_counter() - self._wall
        cpu = own_cpu_seconds() - self._cpu
        train = self._train_seconds or wall
        figures = {
            "seconds": wall,
            "samples_per_s": examples / train if train > 0 else 0.0,
            "step_time_ms": 1000.0 * train / steps if steps else 0.0,
            # over 100 when several cores work; the sum over all threads of this process
            "cpu_percent": 100.0 * cpu / wall if wall > 0 else 0.0,
        }
        for key, value in (("rss_mb", resident_memory_mb()), ("peak_memory_mb", peak_resident_memory_mb())):
            if value is not None:
                figures[key] = value
        if self.device.type == "cuda":  # the peak allocated since `start`
            figures["gpu_peak_allocated_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return figures

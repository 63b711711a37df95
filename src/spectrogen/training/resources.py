"""Per-epoch resource use of the training process: CPU %, resident memory, CUDA peak, step time.

Read from the operating system (``os.times``, ``/proc/self/statm``, ``getrusage``) so no extra
package is needed; a figure the platform cannot give is left out rather than guessed.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Optional

import torch

from spectrogen.training.cpu_threads import own_cpu_seconds


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

"""Where training computes: the device and what runs on it (precision, gradient scalers, channels-last, compile),
the CPU threads, and each epoch's resource figures. Mixed precision and channels-last are CUDA-only: CPU autocast is
slower for these convolution stacks."""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from spectrogen.config.schema import TrainingConfig
from spectrogen.errors import ConfigError, UsageError
from spectrogen.training.distributed import SINGLE, Processes

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
PROBE_SECONDS = 0.25  # the first measurement, before training: long enough for a few scheduler ticks
# later measurements span at least this long (several short epochs): shorter ones flap with other work's bursts
WINDOW_SECONDS = 3.0
# a core counts as free when others use less than this share: a thread beside a third-busy core mostly runs
FREE_MARGIN = 0.4


def resolve_device(name: str) -> torch.device:
    """Returns the torch device that `training.device` names; `auto` picks CUDA when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"training.device={name!r}, but this machine has no usable CUDA GPU: "
                              f"use --device cpu (or auto)")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"training.device={name!r}: this machine has {torch.cuda.device_count()} "
                              f"GPU(s), numbered from 0")
        return device
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("training.device='mps', but MPS is not available here: use --device cpu")
        return torch.device("mps")
    return torch.device(name)


def device_for_flag(name: str, flag: str = "--device") -> torch.device:
    """Returns the device a command's `flag` names; one this machine lacks is a UsageError naming the flag."""
    try:
        return resolve_device(name)
    except ConfigError as exc:
        raise UsageError(str(exc).replace("training.device", flag)) from None


def resolve_precision(requested: str, device: torch.device) -> str:
    """Returns the precision really used: fp32 off CUDA; `auto` is bf16 where supported, else fp16."""
    if device.type != "cuda":
        return "fp32"
    if requested == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return requested


@dataclass
class TrainingContext:
    """What a method needs from the trainer to run a step: device, autocast and gradient scalers."""

    device: torch.device
    precision: str = "fp32"  # resolved: fp32, bf16 or fp16
    channels_last: bool = False
    scalers: dict[str, torch.amp.GradScaler] = field(default_factory=dict)
    processes: Processes = SINGLE  # this process among the training processes (torchrun)

    @classmethod
    def from_config(cls, training: TrainingConfig, device: torch.device,
                    processes: Processes = SINGLE) -> "TrainingContext":
        """Returns the context of `training` on `device` (channels-last only where it helps: CUDA)."""
        return cls(device=device, precision=resolve_precision(training.precision, device),
                   channels_last=training.channels_last and device.type == "cuda", processes=processes)

    def autocast(self):
        """Returns the autocast context of the configured precision (a no-op in fp32)."""
        if self.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    def grad_scaler(self, optimizer: str) -> torch.amp.GradScaler:
        """Returns the scaler of `optimizer`: loss scaling for fp16, a pass-through otherwise."""
        if optimizer not in self.scalers:
            self.scalers[optimizer] = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        return self.scalers[optimizer]

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Returns `x` (B, C, H, W) in the memory format the networks were given."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def state_dict(self) -> dict[str, Any]:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, scaler_state in state.items():
            if scaler_state:  # a disabled scaler saves an empty dict
                self.grad_scaler(name).load_state_dict(scaler_state)


def prepare_networks(networks: dict[str, nn.Module], context: TrainingContext, compile_networks: bool) -> None:
    """Applies channels-last and `torch.compile` to each network in place (state_dict keys unchanged)."""
    for net in networks.values():
        if context.channels_last:
            net.to(memory_format=torch.channels_last)
        if compile_networks:
            # Module.compile keeps the module and its parameter names: checkpoints and references stay valid
            net.compile()


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
    """Sets torch's intra-op thread count to the cores other work leaves free, epoch by epoch (fixed where `threads`
    is given or OMP_NUM_THREADS is set): a thread sharing its core with another process makes every operation wait
    for it. Other processes' use is the cores' busy time in /proc/stat less this process's CPU time; without
    /proc/stat torch's count stays."""

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

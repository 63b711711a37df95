"""Training in several processes (`torchrun --nproc-per-node N -m spectrogen train ...`, DDP): rank 0 alone
writes, epoch decisions are rank 0's, broadcast; the conventions in full: docs/performance.md."""

from __future__ import annotations

import gc
import inspect
import os
import random
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Mapping

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from spectrogen.errors import ConfigError

# ranks wait while rank 0 samples, evaluates and saves; NCCL's default (10 minutes) is short for a large evaluation
TIMEOUT = timedelta(minutes=60)


@dataclass(frozen=True)
class Processes:
    """Where this process stands among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    owns_group: bool = False  # this `train()` call started the process group and ends it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Processes()


def _integer(environ: Mapping[str, str], key: str, default: int) -> int:
    text = environ.get(key, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"environment variable {key}={text!r} is not a whole number (torchrun sets it)") from None


def environment_processes(environ: Mapping[str, str] = os.environ) -> Processes:
    """Returns the rank and sizes of a process group already started, else torchrun's environment's (or one)."""
    started = dist.is_available() and dist.is_initialized()
    world = dist.get_world_size() if started else _integer(environ, "WORLD_SIZE", 1)
    rank = dist.get_rank() if started else _integer(environ, "RANK", 0)
    local = _integer(environ, "LOCAL_RANK", rank)
    if not started and (world < 1 or not 0 <= rank < world or local < 0):
        raise ConfigError(f"RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local} are inconsistent; "
                          f"start several processes with torchrun --nproc-per-node N")
    return Processes(rank=rank, world_size=world, local_rank=local,
                     local_world_size=_integer(environ, "LOCAL_WORLD_SIZE", world))


def process_device(device: torch.device, processes: Processes) -> torch.device:
    """Returns the device this process trains on: its own GPU (cuda:LOCAL_RANK) under torchrun."""
    if not processes.enabled:
        return device
    if device.type == "cuda":
        if device.index not in (None, 0) or torch.cuda.device_count() <= processes.local_rank:
            raise ConfigError(f"training.device={device} with {processes.world_size} processes: use --device cuda; "
                              f"each process takes the GPU of its LOCAL_RANK "
                              f"(this machine has {torch.cuda.device_count()} GPU(s))")
        return torch.device("cuda", processes.local_rank)
    if device.type != "cpu":
        raise ConfigError(f"training.device={device.type} cannot train in several processes: use cuda or cpu")
    return device


def start(processes: Processes, device: torch.device) -> Processes:
    """Returns `processes` after joining the process group (NCCL on CUDA, gloo on the CPU) when needed."""
    if not processes.enabled or dist.is_initialized():
        return processes
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)
    return replace(processes, owns_group=True)


def stop(processes: Processes, *, completed: bool) -> None:
    """Leaves the process group when this run started it and completed (after a failure a rank may be gone)."""
    if not (processes.owns_group and dist.is_initialized() and completed):
        return
    gc.collect()  # DistributedDataParallel wrappers released by the caller also hold the group
    # gloo's destructor joins its threads holding the GIL, which a thread freeing a Python-owned tensor needs
    # too: the barrier lets it finish tearing down collectives first
    dist.barrier()
    dist.destroy_process_group()


# newer torch renamed DDP's per-forward buffer broadcast (buffers are synced at construction either way)
_DDP_OPTIONS = inspect.signature(DistributedDataParallel).parameters
_SYNC_BUFFERS = "forward_sync_buffers" if "forward_sync_buffers" in _DDP_OPTIONS else "broadcast_buffers"


def wrap_networks(networks: Mapping[str, nn.Module], trained: list[str], device: torch.device,
                  processes: Processes) -> dict[str, nn.Module]:
    """Returns DistributedDataParallel wrappers of the `trained` networks for a step's forward passes (empty in
    one process); the plain networks keep serving state dicts, EMA and sampling."""
    if not processes.enabled:
        return {}
    wrappers = {}
    for name in trained:
        network = networks[name]
        if not any(p.requires_grad for p in network.parameters()):
            continue
        running_statistics = any(isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats
                                 for m in network.modules())
        wrappers[name] = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None,
                                                 **{_SYNC_BUFFERS: running_statistics})
    return wrappers


def interval_to_host(values: torch.Tensor, stop: bool, processes: Processes) -> tuple[np.ndarray, bool]:
    """Returns (values (n, K) as float64 on the host, averaged over the processes; whether any asked to stop),
    in one all-reduce. A non-finite value on any rank makes the mean non-finite on all: one NaN policy for all."""
    if not processes.enabled:
        return values.cpu().numpy().astype(np.float64), stop
    flat = torch.cat([values.reshape(-1).float(), torch.full((1,), float(stop), device=values.device)])
    dist.all_reduce(flat)
    host = flat.cpu().numpy().astype(np.float64)
    return (host[:-1] / processes.world_size).reshape(values.shape), bool(host[-1] > 0)


def any_process(flag: bool, processes: Processes, device: torch.device) -> bool:
    """Returns True when `flag` is True on any process (a collective: every rank must call it)."""
    if not processes.enabled:
        return flag
    tensor = torch.full((1,), float(flag), device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.cpu()[0] > 0)


def from_main(value: Any, processes: Processes) -> Any:
    """Returns rank 0's `value` on every process (a collective; `value` must pickle)."""
    if not processes.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def seed_rank_streams(seed: int, step: int, processes: Processes) -> None:
    """Gives ranks other than 0 their own torch, numpy and Python random streams, from (seed, rank, step)."""
    if processes.rank == 0:
        return
    state = np.random.SeedSequence([seed % 2**32, processes.rank, step]).generate_state(2)
    torch.manual_seed(int(state[0]))  # all devices
    np.random.seed(int(state[1]))
    random.seed(int(state[1]))


def sum_on_host(values: np.ndarray, processes: Processes, device: torch.device) -> np.ndarray:
    """Returns `values` (float64) summed over the processes (a collective; unchanged in one process)."""
    if not processes.enabled:
        return values
    tensor = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
    dist.all_reduce(tensor)
    return tensor.cpu().numpy()

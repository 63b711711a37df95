"""Starts training processes for tests the way torchrun does, and the jobs they run.

Each process gets torchrun's RANK / WORLD_SIZE / LOCAL_RANK / MASTER_* variables and calls `train()`.
Processes come from a fork server that imported torch and the package once (PRELOADED): not forked
from the test runner, whose threads and locks would be copied mid-use, and without paying for the
imports in each process. Kept free of conftest imports: the fork server imports this module by name.
"""

from __future__ import annotations

import builtins
import faulthandler
import gc
import io
import multiprocessing
import os
import shutil
import signal
import socket
import time
import traceback
from multiprocessing import connection, forkserver
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import torch

from spectrogen.api import train
from spectrogen.models import gan_method
from spectrogen.models.diffusion import method as diffusion_method

from common import quick_figures

# a run of these tiny models takes a second or two; the limit only catches a hang, also on a busy machine
TIMEOUT_S = 300
# how long the other processes get to stop by themselves after one failed
FAILURE_GRACE_S = 10

# everything a training process imports on its way, lazily imported ones too (the first optimizer pulls
# in torch._dynamo)
PRELOADED = ["torch", "torch._dynamo", "torch.distributed", "spectrogen.api", "spectrogen.data",
             "spectrogen.models.registry", "spectrogen.models.gan_method", "spectrogen.models.diffusion.method",
             "spectrogen.models.autoencoder.method", "process_launcher"]

_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOADED)
    return _CONTEXT


def available() -> bool:
    """Returns True where the fork server start method exists (POSIX)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def record_writes_under(root: Path, violations: list[str]) -> None:
    """Makes every file-system change under `root` (and every open for writing there) append to `violations`."""
    root_text = str(Path(root).resolve())

    def inside(path) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(root_text)
        except TypeError:  # a file descriptor
            return False

    def watch(module, name, is_write=lambda *args, **kwargs: True):
        original = getattr(module, name)

        def watched(*args, **kwargs):
            if args and inside(args[0]) and is_write(*args, **kwargs):
                violations.append(f"{name}({args[0]})")
            return original(*args, **kwargs)

        setattr(module, name, watched)

    def write_mode(path, mode="r", *args, **kwargs):
        return any(flag in mode for flag in "wax+")

    def write_flags(path, flags, *args, **kwargs):
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))

    watch(builtins, "open", write_mode)
    io.open = builtins.open  # pathlib opens through io.open
    watch(os, "open", write_flags)
    for name in ("replace", "rename", "mkdir", "makedirs", "unlink", "remove", "link", "rmdir"):
        watch(os, name)
    watch(shutil, "rmtree")


def _process(rank: int, world: int, port: int, errors: Path, watched: Optional[Path],
             job: Callable[..., Any], args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    gc.freeze()  # the preloaded modules' objects: the run's full collections then skip them
    # the launcher asks a process that outlives TIMEOUT_S where it is (SIGUSR1: every thread's stack)
    stacks = open(errors / f"rank{rank}.stack", "w")
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
    code = 0
    try:
        violations: list[str] = []
        if rank > 0 and watched is not None:
            record_writes_under(watched, violations)
        job(*args)
        if violations:
            raise AssertionError(f"rank {rank} wrote in the run directory: {violations[:5]}")
    except BaseException:  # noqa: BLE001 - reported to the test, which fails with it
        (errors / f"rank{rank}.txt").write_text(traceback.format_exc())
        code = 1
    os._exit(code)


def _run_once(world: int, workdir: Path, job: Callable[..., Any], args: tuple,
              watched: Optional[Path]) -> Optional[str]:
    """Returns None when every process finished cleanly, else what went wrong (tracebacks, stacks of hung ones)."""
    errors = Path(workdir) / f"errors-{os.urandom(4).hex()}"
    errors.mkdir(parents=True)
    port = _free_port()
    processes = [_context().Process(target=_process, args=(rank, world, port, errors, watched, job, args))
                 for rank in range(world)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        running = [process for process in processes if process.exitcode is None]
        failed = any(process.exitcode for process in processes if process.exitcode is not None)
        now = time.monotonic()
        if not running or failed or now >= deadline:
            break
        connection.wait([process.sentinel for process in running], timeout=deadline - now)
    if failed:  # the others may wait for the failed one in a collective: a moment to fail by themselves
        connection.wait([process.sentinel for process in running], timeout=FAILURE_GRACE_S)
    hung = [rank for rank, process in enumerate(processes) if process.exitcode is None]
    if hung and not failed:
        for rank in hung:
            os.kill(processes[rank].pid, signal.SIGUSR1)
        time.sleep(2)  # faulthandler writes from its own signal handler
    for process in processes:
        if process.exitcode is None:
            process.kill()
        process.join()
    reports = [report.read_text() for report in sorted(errors.glob("*.txt"))]
    if hung and not failed:
        reports.append(f"rank(s) {hung} still running after {TIMEOUT_S} s; their stacks:")
        reports += [f"--- rank {rank}\n" + (errors / f"rank{rank}.stack").read_text() for rank in hung]
    elif hung:
        reports.append(f"rank(s) {hung} stopped after another rank failed")
    codes = [process.exitcode for process in processes]
    if not reports and any(codes):
        reports.append(f"exit codes {codes}")
    return "\n".join(reports) if reports else None


def run_processes(world: int, workdir: Path, job: Callable[..., Any], *args: Any,
                  watched: Optional[Path] = None) -> None:
    """Runs `job(*args)` in `world` processes joined as under torchrun; raises with a rank's traceback.

    With `watched`, ranks other than 0 must not write under that folder. A failed rank ends the run
    (the others get FAILURE_GRACE_S, then are killed); a run past TIMEOUT_S fails with its processes'
    stacks. A run whose port was taken in between (EADDRINUSE: nothing written yet) is tried once more.
    """
    failure = _run_once(world, workdir, job, args, watched)
    if failure is not None and "EADDRINUSE" in failure:
        failure = _run_once(world, workdir, job, args, watched)
    if failure is not None:
        raise AssertionError(failure)


def start_server() -> None:
    """Starts the fork server (it imports PRELOADED in the background) ahead of the first run_processes."""
    _context()
    forkserver.ensure_running()


# --- jobs --------------------------------------------------------------------------------------------
def train_job(config, resume=None, overrides=()) -> None:
    """Trains quietly, figures skipped (a process's job, also called in the test runner)."""
    with pytest.MonkeyPatch.context() as patch:  # undone after: the test runner calls it too
        quick_figures(patch.setattr)
        train(config, resume=resume, overrides=list(overrides), quiet=True)


def _first_row(n: int) -> int:
    """Returns where this process's n examples start in the global batch (rank r holds rows r*n..(r+1)*n-1)."""
    return int(os.environ.get("RANK", "0")) * n


def fixed_randomness(setattr: Callable[[Any, str, Any], None]) -> None:
    """Makes the GAN step's latent vectors and penalty points a function of each example's global position.

    Example k of a global batch gets row k of a fixed table whether one process holds the whole
    batch or rank r holds rows r*B..(r+1)*B-1 of it, so both ways draw the same numbers.
    """
    table = torch.rand(64, 64, generator=torch.Generator().manual_seed(3)) * 2 - 1
    original_latent, original_penalty = gan_method.sample_latent, gan_method.gradient_penalty

    def latent(n, latent_dim, distribution, *, generator=None, device=None):
        if generator is not None:  # the trainer's fixed samples: left alone
            return original_latent(n, latent_dim, distribution, generator=generator, device=device)
        return table[_first_row(n):_first_row(n) + n, :latent_dim].to(device)

    def penalty(critic, real, fake):
        start = _first_row(len(real))
        alpha = torch.linspace(0.05, 0.95, 64)[start:start + len(real)]
        return original_penalty(critic, real, fake, alpha=alpha.to(real.device))

    setattr(gan_method, "sample_latent", latent)
    setattr(gan_method, "gradient_penalty", penalty)


class _FixedDraws:
    """Stands for `torch` in the diffusion method: its step's timesteps and noise come from fixed tables,
    row k for example k of the global batch (as `fixed_randomness` does for the GAN); all else is torch."""

    def __init__(self):
        generator = torch.Generator().manual_seed(5)
        self.timesteps = torch.randint(0, 2**20, (64,), generator=generator)
        self.noise = torch.randn(64, 1024, generator=generator)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    def randint(self, low, high, size, *, device=None):
        start = _first_row(size[0])
        return (low + self.timesteps[start:start + size[0]] % (high - low)).to(device)

    def randn_like(self, x):
        start, per_example = _first_row(len(x)), x[0].numel()
        return self.noise[start:start + len(x), :per_example].reshape(x.shape).to(x.device, x.dtype)


def fixed_diffusion_draws(setattr: Callable[[Any, str, Any], None]) -> None:
    """Makes the diffusion step's timesteps and noise a function of each example's global position
    (see `_FixedDraws`; class dropout stays random: configure model.diffusion.class_dropout=0)."""
    setattr(diffusion_method, "torch", _FixedDraws())


def train_with_fixed_draws(family: str, config) -> None:
    """`train_job` with the randomness of the "gan" or "diffusion" step fixed by the functions above."""
    {"gan": fixed_randomness, "diffusion": fixed_diffusion_draws}[family](setattr)
    train_job(config)

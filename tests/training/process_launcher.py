"""Starts training processes for tests with torchrun's environment, and the jobs they run. They come from a fork
server that imported PRELOADED once (forking the test runner would copy its threads and locks mid-use); kept free
of conftest imports, since the fork server imports this module by name."""

import faulthandler
import functools
import gc
import multiprocessing
import os
import signal
import socket
import sys
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

# everything a training process imports, lazily imported ones too (the first optimizer pulls in torch._dynamo)
PRELOADED = ["torch", "torch._dynamo", "torch.distributed", "spectrogen.api", "spectrogen.data",
             "spectrogen.models.registry", "spectrogen.models.gan_method", "spectrogen.models.diffusion.method",
             "spectrogen.models.autoencoder.method", "process_launcher"]

@functools.cache
def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED)
    return context


def available() -> bool:
    return "forkserver" in multiprocessing.get_all_start_methods()  # POSIX


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def record_writes_under(root: Path, violations: list[str]) -> None:
    """Makes every file-system change under `root` (and every open for writing there) append to `violations`."""
    root_text = str(Path(root).resolve())
    changes = {"os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.link", "shutil.rmtree"}  # os.replace: rename

    def audit(event: str, args: tuple) -> None:
        writes = event in changes or (event == "open" and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writes and isinstance(args[0], (str, bytes, os.PathLike)) \
                and os.path.abspath(os.fsdecode(args[0])).startswith(root_text):
            violations.append(f"{event}({args[0]})")

    sys.addaudithook(audit)  # for the rest of the process, which ends with its job


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
        failed = any(process.exitcode for process in processes)  # None while running, 0 when done
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
    """Runs `job(*args)` in `world` processes joined as under torchrun; raises with a rank's traceback, or the
    stacks of a run past TIMEOUT_S. With `watched`, ranks other than 0 must not write under that folder. A run
    whose port was taken in between (EADDRINUSE: nothing written yet) is tried once more."""
    failure = _run_once(world, workdir, job, args, watched)
    if failure is not None and "EADDRINUSE" in failure:
        failure = _run_once(world, workdir, job, args, watched)
    if failure is not None:
        raise AssertionError(failure)


def start_server() -> None:
    """Starts the fork server ahead of the first run_processes (it imports PRELOADED in the background)."""
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


class _FixedDraws:
    """Stands for `torch` in the diffusion method: its step's timesteps and noise come from fixed tables (see
    `fix_draws`); all else is torch."""

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


def fix_draws(family: str, setattr: Callable[[Any, str, Any], None]) -> None:
    """Makes the draws of the "gan" step (latent vectors, penalty points) or the "diffusion" step (timesteps and
    noise; class dropout stays random: set it to 0) row k of fixed tables for example k of the global batch, so
    one process with the whole batch and several with a slice each draw the same numbers."""
    if family == "diffusion":
        setattr(diffusion_method, "torch", _FixedDraws())
        return
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


def train_with_fixed_draws(family: str, config) -> None:
    """`train_job` with the draws of the `family`'s step fixed (`fix_draws`)."""
    fix_draws(family, setattr)
    train_job(config)

"""Starts training processes for tests the way torchrun does, and the jobs they run.

Each process gets the RANK / WORLD_SIZE / LOCAL_RANK / MASTER_* variables torchrun sets and calls the
same `train()` the CLI does. Processes come from multiprocessing's fork server: forked from a clean
process that has imported torch once, not from the test runner (whose threads and locks a plain
fork would copy mid-use), and without the cost of a fresh interpreter per process.

Kept free of conftest imports: the fork server imports this module by name to find the jobs.
"""

from __future__ import annotations

import builtins
import io
import multiprocessing
import os
import shutil
import socket
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

import torch

TIMEOUT_S = 180

_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        # imported once in the server, so each process starts with them loaded
        _CONTEXT.set_forkserver_preload(["torch", "spectrogen.training.api", "spectrogen.models.registry",
                                         "process_launcher"])
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


def run_processes(world: int, workdir: Path, job: Callable[..., Any], *args: Any,
                  watched: Optional[Path] = None) -> None:
    """Runs `job(*args)` in `world` processes joined as under torchrun; raises with a rank's traceback.

    With `watched`, ranks other than 0 record any write under that folder, which fails the run.
    """
    errors = Path(workdir) / f"errors-{os.urandom(4).hex()}"
    errors.mkdir(parents=True)
    context = _context()
    port = _free_port()
    processes = [context.Process(target=_process, args=(rank, world, port, errors, watched, job, args))
                 for rank in range(world)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(TIMEOUT_S)
    hung = [rank for rank, process in enumerate(processes) if process.is_alive()]
    for process in processes:
        if process.is_alive():
            process.kill()
    reports = sorted(errors.glob("*.txt"))
    if reports:
        raise AssertionError("\n".join(report.read_text() for report in reports))
    if hung:
        raise AssertionError(f"rank(s) {hung} still running after {TIMEOUT_S} s")
    codes = [process.exitcode for process in processes]
    if any(codes):
        raise AssertionError(f"exit codes {codes}")


# --- jobs --------------------------------------------------------------------------------------------
def quick_plots(setattr: Callable[[Any, str, Any], None]) -> None:
    """Replaces the run's figures with empty files of the same names (for runs whose figures no test reads)."""
    from spectrogen.training import plots, trainer

    def write_names(history, plots_dir, *args, **kwargs):
        plots_dir.mkdir(parents=True, exist_ok=True)
        for name in plots.PLOT_NAMES:
            (plots_dir / name).write_bytes(b"")
        return [plots_dir / name for name in plots.PLOT_NAMES]

    setattr(trainer, "write_plots", write_names)


def train_job(config, resume=None, overrides=()) -> None:
    """Trains quietly, figures skipped (a process's job)."""
    from spectrogen.training.api import train

    quick_plots(setattr)
    train(config, resume=resume, overrides=list(overrides), quiet=True)


def fixed_randomness(setattr: Callable[[Any, str, Any], None]) -> None:
    """Makes the GAN step's latent vectors and penalty points a function of each example's global position.

    Example k of a global batch gets row k of a fixed table whether one process holds the whole
    batch or rank r holds rows r*B..(r+1)*B-1 of it, so both ways draw the same numbers.
    """
    from spectrogen.models import gan_method

    table = torch.rand(64, 64, generator=torch.Generator().manual_seed(3)) * 2 - 1
    original_latent, original_penalty = gan_method.sample_latent, gan_method.gradient_penalty

    def first_row(n: int) -> int:
        return int(os.environ.get("RANK", "0")) * n

    def latent(n, latent_dim, distribution, *, generator=None, device=None):
        if generator is not None:  # the trainer's fixed samples: left alone
            return original_latent(n, latent_dim, distribution, generator=generator, device=device)
        return table[first_row(n):first_row(n) + n, :latent_dim].to(device)

    def penalty(critic, real, fake):
        start = first_row(len(real))
        alpha = torch.linspace(0.05, 0.95, 64)[start:start + len(real)]
        return original_penalty(critic, real, fake, alpha=alpha.to(real.device))

    setattr(gan_method, "sample_latent", latent)
    setattr(gan_method, "gradient_penalty", penalty)


def train_with_fixed_randomness(config) -> None:
    """`train_job` with the GAN's randomness fixed by `fixed_randomness`."""
    fixed_randomness(setattr)
    train_job(config)

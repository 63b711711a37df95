"""Training in processes of their own: several joined as under torchrun, or one `spectrogen` command that a test
kills at a chosen moment. They come from a fork server that imported PRELOADED once (forking the test runner would
copy its threads and locks mid-use); kept free of conftest imports: the fork server imports this module by name."""

import csv
import faulthandler
import functools
import gc
import io
import multiprocessing
import os
import signal
import socket
import sys
import time
import traceback
from multiprocessing import connection, forkserver
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional, Sequence

import pytest
import torch

from spectrogen.api import train
from spectrogen.cli.main import main
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
             "spectrogen.models.autoencoder.method", "spectrogen.cli.main", "spectrogen.cli.train", "processes"]


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


# --- one `spectrogen` command ---------------------------------------------------------------------
def start_cli(argv: Sequence, log: Path, stall: Optional[tuple[str, str, Path]] = None) -> BaseProcess:
    """Starts `spectrogen ARGV` on one thread, its output going to `log`; `stall`: `stop_in_checkpoint`'s arguments."""
    process = _context().Process(target=_cli, args=([str(arg) for arg in argv], log, stall))
    process.start()
    return process


def _cli(argv: list[str], log: Path, stall: Optional[tuple[str, str, Path]]) -> NoReturn:
    torch.set_num_threads(1)
    os.chdir(log.parent)
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    sys.stdout.reconfigure(line_buffering=True)
    if stall is not None:
        stop_in_checkpoint(*stall)
    raise SystemExit(main(argv))


def stop_in_checkpoint(name: str, stage: str, marker: Path) -> None:
    """Makes this process's write of checkpoint `name` stall for ten minutes, so that a test can SIGKILL it there:
    at `stage` "half" with half its bytes in the temporary file (flushed), at "rename" whole but not yet renamed.
    `marker` is made once the write stalls."""
    real_save, real_replace = torch.save, os.replace

    def stall(what: str) -> None:
        marker.write_text(what + "\n", encoding="utf-8")
        time.sleep(600)

    def save(obj, handle, *args, **kwargs):
        target = Path(getattr(handle, "name", ""))
        if stage != "half" or not target.name.startswith(f".{name}."):
            return real_save(obj, handle, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        handle.write(data[: len(data) // 2])
        handle.flush()
        os.fsync(handle.fileno())
        stall(f"half of {target} written")
        handle.write(data[len(data) // 2:])

    def replace(source, target):
        if stage == "rename" and Path(target).name == name and str(source).endswith(".tmp"):
            stall(f"{source} complete, not yet renamed to {target}")
        return real_replace(source, target)

    torch.save, os.replace = save, replace


def fail(process: BaseProcess, log: Path, why: str) -> NoReturn:
    """Kills `process` (if it still runs) and fails with `why` and the end of its output."""
    process.kill()
    process.join()
    raise AssertionError(f"{why}:\n" + log.read_text(errors="replace")[-3000:])


def wait_until(condition, process: BaseProcess, log: Path, what: str, timeout: float = 240.0) -> None:
    """Polls `condition()` every 10 ms while `process` runs; fails (with its output) when it ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.exitcode is not None:
            fail(process, log, f"the training process ended (exit {process.exitcode}) before {what}")
        if time.monotonic() > deadline:
            fail(process, log, f"timed out waiting for {what}")
        time.sleep(0.01)


def kill_hard(process: BaseProcess) -> None:
    """SIGKILLs `process` (no handler, no finally, no flush runs after it) and reaps it."""
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=60)
    assert process.exitcode == -signal.SIGKILL


def finish(process: BaseProcess, log: Path, timeout: float = 300.0) -> int:
    """Waits for `process` to end; returns its exit code."""
    process.join(timeout)
    if process.exitcode is None:
        fail(process, log, "the training process did not end")
    return process.exitcode


def steps_done(run: Path) -> int:
    """Returns the highest global step that the run's iteration CSVs record (0 when none)."""
    best = 0
    for path in (run / "single_epochs_statistics").glob("epoch_*/epoch_*_iterations.csv"):
        try:
            steps = [row.get("global_step") or "" for row in csv.DictReader(path.read_text("utf-8").splitlines())]
        except OSError:
            continue
        best = max([best, *(int(step) for step in steps if step.isdigit())])  # a row being written may be cut
    return best


def config_stamp(run: Path) -> Optional[tuple[int, int]]:
    """Returns (inode, mtime) of experiment_config.json, which a (resumed) run rewrites once it has rewound
    the statistics to its checkpoint: until then the rows on disk are the previous process's."""
    try:
        info = (run / "epochs_statistics" / "experiment_config.json").stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def wait_for_step(run: Path, target: int, process: BaseProcess, log: Path) -> None:
    """Waits until the training `process` (started after `run` was last written) has done global step `target`."""
    before, started = config_stamp(run), []

    def reached() -> bool:
        if not started and config_stamp(run) not in (None, before):
            started.append(True)
        return bool(started) and steps_done(run) >= target

    wait_until(reached, process, log, f"step {target}")


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

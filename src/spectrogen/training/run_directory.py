"""The run directory (its names are fixed: tools read them), the rules for reusing one, its lock, and the notice
that a resume leaves hand edits of its experiment_config.json out (the checkpoint's configuration is used)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from contextlib import suppress
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from spectrogen.atomic import open_replacing, write_text_atomic
from spectrogen.config.loader import flat_settings
from spectrogen.errors import OverwriteError, UsageError
from spectrogen.paths import check_folder_path, check_own_folder, listed, remove_entries
from spectrogen.training.csv_log import CsvLog

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

# everything a run writes at the top of its directory; --overwrite removes these and nothing else
RUN_ENTRIES = ("epochs_statistics", "single_epochs_statistics", "samples", "checkpoints", "plots",
               "report.html", "report_audio", "tensorboard")

# held (flock) by the process that trains into the folder; a second one is refused while it runs
LOCK_FILE = ".spectrogen.lock"

_EPOCH_FOLDER = re.compile(r"^epoch_(\d+)$")
_SAMPLE_FILE = re.compile(r"^epoch_(\d+)\.npy$")
SHOWN_FIELDS = 8  # edited fields named in full in the resume notice; the rest are counted


def run_of_checkpoint(checkpoint: Path) -> Optional[Path]:
    """Returns the run directory a checkpoint belongs to (RUN for RUN/checkpoints/x.tar), None outside one."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None


def epoch_sample_files(samples_dir: Path) -> dict[int, Path]:
    """Returns {epoch: path} of the `epoch_NNN.npy` sample files in `samples_dir`, in epoch order."""
    found = (_SAMPLE_FILE.match(path.name) for path in Path(samples_dir).glob("epoch_*.npy"))
    return dict(sorted((int(match.group(1)), Path(samples_dir) / match.group(0)) for match in found if match))


class RunDirectory:
    """Paths of one run and the file operations on them (only the main process writes)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.statistics_dir = self.root / "epochs_statistics"
        self.epoch_csv = self.statistics_dir / "epoch_statistics.csv"
        self.metrics_csv = self.statistics_dir / "checkpoint_metrics.csv"
        self.config_json = self.statistics_dir / "experiment_config.json"
        self.checkpoints_dir = self.root / "checkpoints"
        self.best_checkpoint = self.checkpoints_dir / "best_model.tar"
        self.final_checkpoint = self.checkpoints_dir / "final_model.tar"
        self.samples_dir = self.root / "samples"
        self.plots_dir = self.root / "plots"

    def iterations_csv(self, epoch: int) -> Path:
        return self.root / "single_epochs_statistics" / f"epoch_{epoch}" / f"epoch_{epoch}_iterations.csv"

    def rolling_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints_dir / f"checkpoint_epoch_{epoch}.tar"

    def read_config(self) -> Any:
        """Returns what experiment_config.json holds; raises OSError or ValueError when missing or damaged."""
        return json.loads(self.config_json.read_text(encoding="utf-8"))

    def _run_refusal(self) -> str:
        return (f"output directory {self.root} already holds a training run; continue it with "
                f"`spectrogen train --resume {self.root}`, replace it with --overwrite, or choose another --output-dir")

    def refuse_existing(self) -> None:
        """Raises OverwriteError when the folder holds a run (the caller passes --resume or --overwrite)."""
        check_folder_path(self.root, "--output-dir")
        # experiment_config.json marks a run; a user's own `checkpoints/` or `plots/` folder does not
        if self.config_json.is_file():
            raise OverwriteError(self._run_refusal())

    def check_new_run(self, overwrite: bool) -> None:
        """Raises OverwriteError unless a new run may be written here without touching the user's files: a run
        is replaced only with `overwrite`, and then only its RUN_ENTRIES (see paths.check_own_folder)."""
        check_folder_path(self.root, "--output-dir")
        check_own_folder(self.root, own=RUN_ENTRIES, marker=str(self.config_json.relative_to(self.root)),
                         overwrite=overwrite, flag="--output-dir", kind="run", refusal=self._run_refusal(),
                         ignore=(LOCK_FILE,))

    def clear_run(self) -> None:
        """Removes the entries a run writes (never other files the user keeps in the folder)."""
        remove_entries(self.root, RUN_ENTRIES)

    def create(self) -> None:
        for folder in (self.statistics_dir, self.checkpoints_dir, self.samples_dir, self.plots_dir,
                       self.root / "single_epochs_statistics"):
            folder.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_json.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.config_json, json.dumps(config, indent=2) + "\n")

    def rewind(self, epoch: int, step_in_epoch: int) -> None:
        """Forgets what was written after `epoch` completed epochs and `step_in_epoch` steps of the next: work
        done after the checkpoint a resume starts from was lost, and its rows would otherwise appear twice."""
        for table in (self.epoch_csv, self.metrics_csv):
            CsvLog(table).keep(lambda row: row.get("epoch") is not None and row["epoch"] <= epoch)
        iterations_root = self.root / "single_epochs_statistics"
        if iterations_root.is_dir():
            for folder in iterations_root.iterdir():
                match = _EPOCH_FOLDER.match(folder.name)
                if not match:
                    continue
                number = int(match.group(1))
                if number > epoch + 1 or (number == epoch + 1 and step_in_epoch == 0):
                    shutil.rmtree(folder)
                elif number == epoch + 1:
                    CsvLog(self.iterations_csv(number)).keep(
                        lambda row: row.get("iteration") is not None and row["iteration"] <= step_in_epoch)
        for number, path in epoch_sample_files(self.samples_dir).items():
            if number > epoch:
                path.unlink()
        for folder in (self.checkpoints_dir, self.samples_dir, self.statistics_dir, iterations_root):
            # an interrupted atomic write (checkpoint, samples, CSV rewrite); the real file is intact
            for leftover in folder.rglob("*.tmp") if folder.is_dir() else ():
                leftover.unlink()

    def save_samples(self, epoch: int, samples: np.ndarray) -> Path:
        """Writes the fixed-noise samples (n, C, H, W) of `epoch` as float32 .npy (lossless)."""
        path = self.samples_dir / f"epoch_{epoch:03d}.npy"
        with open_replacing(path, "wb") as handle:
            np.save(handle, samples.astype(np.float32, copy=False))
        return path


class RunInUse(UsageError):
    """Another process is training into the same run directory."""


class RunLock:
    """The lock of one run directory (flock on POSIX, msvcrt on Windows; the file names its owner); `acquire` raises
    RunInUse while another process holds it. The OS drops a lock when its process ends: a killed run's is taken over."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self._handle = None
        self.created_root = False

    def acquire(self) -> "RunLock":
        """Takes the lock (creating the folder if needed) and returns self; raises RunInUse if held."""
        if not self.root.exists():
            self.root.mkdir(parents=True)
            self.created_root = True
        while True:
            handle = open(self.path, "a+", encoding="utf-8")
            try:
                _lock(handle, take=True)
            except OSError:
                handle.seek(0)
                owner = handle.read().strip() or "unknown"
                handle.close()
                raise RunInUse(f"{self.root} is being trained by another spectrogen process ({owner}); wait for "
                               "it to finish or stop it, then run this again") from None
            if _same_file(handle, self.path):
                break
            handle.close()  # the owner removed the file as it finished: lock the new one
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self, remove_empty_root: bool = False) -> None:
        """Removes the lock file and drops the lock; with `remove_empty_root`, also a folder it made for nothing."""
        if self._handle is None:
            return
        try:
            with suppress(OSError):  # Windows keeps an open file; the next owner simply locks it again
                self.path.unlink(missing_ok=True)  # still held: a process waiting on this file re-checks it
            _lock(self._handle, take=False)
        finally:
            self._handle.close()
            self._handle = None
        if remove_empty_root and self.created_root:
            with suppress(OSError):
                self.root.rmdir()  # only if empty


def _same_file(handle, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except OSError:
        return False


def _lock(handle, *, take: bool) -> None:
    """Takes (without waiting; OSError when held) or drops the lock of the open file `handle`."""
    if fcntl is not None:
        fcntl.flock(handle.fileno(), (fcntl.LOCK_EX | fcntl.LOCK_NB) if take else fcntl.LOCK_UN)
    else:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)


def edited_fields(saved: dict[str, Any], written: dict[str, Any], overridden: Iterable[str]) -> list[str]:
    """Returns the dotted keys whose value in `written` differs from (or is missing in) `saved`, leaving out
    those that an override, or an override of their section, sets anyway."""
    old, new = flat_settings(saved), flat_settings(written)
    overridden = set(overridden)
    prefixes = tuple(f"{key}." for key in overridden)
    missing = object()
    return sorted(key for key in old.keys() | new.keys()
                  if old.get(key, missing) != new.get(key, missing)
                  and key not in overridden and not key.startswith(prefixes))


def resume_notice(checkpoint_path: Path, saved: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> Optional[str]:
    """Returns the one-line notice to print when the run's experiment_config.json differs from `saved`
    (the checkpoint's configuration) in a field the `overrides` leave alone; None when it does not."""
    owner = run_of_checkpoint(checkpoint_path)
    if owner is None:
        return None  # a checkpoint outside a run directory has no experiment_config.json beside it
    run = RunDirectory(owner)
    try:
        written = run.read_config()
        damage = None if isinstance(written, dict) else "it does not hold a JSON object"
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        damage = f"it cannot be read ({type(exc).__name__})"
    path, how = run.config_json, "to change a field on resume, give it as --set section.key=value"
    if damage:
        return f"{path}: {damage}; the configuration saved in {checkpoint_path} is used ({how})"
    fields = edited_fields(saved, written, [key for key, _ in overrides])
    if not fields:
        return None
    named = listed(fields, SHOWN_FIELDS)
    return (f"{path} differs from the configuration saved in {checkpoint_path} in {named}; the checkpoint's "
            f"configuration is used and these edits are not applied; {how}, e.g. {_example(fields, written)}")


def _example(fields: list[str], written: dict[str, Any]) -> str:
    """Returns the --set that applies the first edit of `fields` that still holds a value in `written`."""
    values = flat_settings(written)
    key = next((key for key in fields if key in values), fields[0])
    value = values.get(key, "VALUE")
    return f"--set {key}={value if isinstance(value, str) else json.dumps(value)}"

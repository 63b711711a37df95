"""One process at a time per run directory: `RUN/.spectrogen.lock`, locked with flock (POSIX) or msvcrt
(Windows) and naming its owner. The OS drops the lock when its process ends, so a killed run's lock is taken over.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from pathlib import Path

from spectrogen.errors import UsageError
from spectrogen.training.run_directory import LOCK_FILE

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class RunInUse(UsageError):
    """Another process is training into the same run directory."""


class RunLock:
    """The lock of one run directory; `acquire` raises RunInUse while another process holds it."""

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


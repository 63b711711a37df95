"""How the CLI reports a failure it expects: one line naming the path and the cause, no traceback.

Expected failures are the typed errors of `spectrogen.errors`, and the operating system's errors on
files (a path that exists as a file, a read-only folder, a full disk), also when a library wrapped
them in an error of its own (torch.save raises RuntimeError over the OSError of a full disk).
Anything else is a defect of spectrogen and keeps its traceback.
"""

from __future__ import annotations

import errno
import sys
import warnings

# a full disk exits 1 (the environment failed, the command was right); other OS errors on paths
# the user gave are usage errors (exit 2)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def describe_os_error(error: OSError) -> tuple[str, int]:
    """Returns (one-line message, exit code) for an operating-system error on a file."""
    path = error.filename
    reason = error.strerror or str(error)
    hints = {
        errno.ENOSPC: "free some space or write to another disk",
        errno.EDQUOT: "free some space or write to another disk",
        errno.EACCES: "choose a folder you can write to",
        errno.EPERM: "choose a folder you can write to",
        errno.EROFS: "the file system is read-only: choose another folder",
        errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
        errno.EISDIR: "it is a folder: give a file name",
        errno.EEXIST: "it already exists: choose another path",
        errno.ENAMETOOLONG: "shorten the path",
    }
    hint = hints.get(error.errno)
    where = f"{path}: " if path else ""
    message = f"{where}{reason}" + (f"; {hint}" if hint else "")
    return message, 1 if error.errno in DISK_FULL else 2


def quiet_library_warnings() -> None:
    """Hides the warnings libraries print about their own internals, which the user cannot change (see --debug)."""
    for module in ("numpy", "torch", "scipy", "sklearn", "librosa", "matplotlib", "PIL", "soundfile",
                   "pydantic", "numba", "tensorboard"):
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning, message=r".*(overflow|invalid value|divide by zero).*")


def print_error(command: str, message: str) -> None:
    print(f"spectrogen {command}: error: {message}", file=sys.stderr, flush=True)

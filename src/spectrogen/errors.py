"""Errors a user can act on. The CLI prints their message (no traceback) and exits with `exit_code`."""

from __future__ import annotations

import errno
from typing import Optional


class SpectrogenError(Exception):
    """Base class of expected errors: bad input, bad configuration, refused overwrite."""

    exit_code = 1


class UsageError(SpectrogenError):
    """The command line or the configuration asks for something impossible (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration field is unknown, of the wrong type or out of range."""


class InputError(UsageError):
    """An input file or folder is missing, unreadable or malformed (exit code 2)."""

    def __init__(self, message: str, path=None):
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


class OverwriteError(UsageError):
    """The output location already holds something the user made."""


class CheckpointError(InputError):
    """A checkpoint file is foreign, truncated, of another model or carries code."""


class TrainingDiverged(SpectrogenError):
    """Training produced non-finite values and the configuration says to stop."""


def os_error_in_chain(exc: BaseException) -> Optional[OSError]:
    """Returns the first OSError among `exc`, its cause and its context, or None."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    if isinstance(exc, RuntimeError) and "write failed" in str(exc):
        # torch's writer reports a full disk as "file write failed" without the OSError
        return OSError(errno.ENOSPC, "could not write (is the disk full?)")
    return None


def os_error_at(exc: BaseException, path) -> Optional[OSError]:
    """Returns the OSError behind `exc` (see os_error_in_chain) with `path` as its file name, or None."""
    error = os_error_in_chain(exc)
    return None if error is None else OSError(error.errno, error.strerror or str(error), str(path))

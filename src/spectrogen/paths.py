"""Checks on the output paths a user gives, made before any slow work: a clear error, nothing lost."""

from __future__ import annotations

import os
from pathlib import Path

from spectrogen.errors import OverwriteError, UsageError


def check_folder_path(path: Path | str, flag: str) -> Path:
    """Returns `path` when a folder can be there (it is one, or can be made); raises UsageError naming `flag`."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise OverwriteError(f"{flag} {path}: {part} is a file, not a folder; give a folder")
    _check_writable(path, flag)
    return path


def check_file_path(path: Path | str, flag: str) -> Path:
    """Returns `path` when a file can be written there; raises UsageError naming `flag`."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name")
    check_folder_path(path.parent, flag)
    return path


def _check_writable(path: Path, flag: str) -> None:
    existing = next((part for part in (path, *path.parents) if part.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot write in {existing} (permission denied); choose a folder you "
                         "can write to")

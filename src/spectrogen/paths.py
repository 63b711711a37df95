"""Checks on the output paths a user gives, made before any slow work: a clear error, nothing lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from spectrogen.errors import OverwriteError, UsageError


def check_folder_path(path: Path | str, flag: str) -> Path:
    """Returns `path` when a folder can be there (it is one, or can be made); raises UsageError naming `flag`."""
    path = Path(path)
    # the nearest part that exists: a file there is the problem, or else a folder one cannot write in
    existing = next((part for part in (path, *path.parents) if part.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OverwriteError(f"{flag} {path}: {existing} is a file, not a folder; give a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot write in {existing} (permission denied); choose a folder you "
                         "can write to")
    return path


def check_file_path(path: Path | str, flag: str) -> Path:
    """Returns `path` when a file can be written there; raises UsageError naming `flag`."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name")
    check_folder_path(path.parent, flag)
    return path


def listed(names: list[str], shown: int = 5) -> str:
    """Returns `names` for a message: the first `shown`, then how many more."""
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


def check_own_folder(folder: Path, *, own: tuple[str, ...], marker: str, overwrite: bool, flag: str, kind: str,
                     refusal: str, ignore: tuple[str, ...] = ()) -> bool:
    """Returns whether `folder` holds a `kind` (its `marker` file) that `overwrite` lets the caller replace (only
    its `own` entries); raises OverwriteError (a `kind` without `overwrite`: `refusal`) where writing one there
    would replace the user's files (`own` names without the marker, either way) or mix with them (without it)."""
    present = sorted(path.name for path in folder.iterdir() if path.name not in ignore) if folder.is_dir() else []
    if not present:
        return False
    if (folder / marker).is_file():
        if not overwrite:
            raise OverwriteError(refusal)
        return True
    clashing = [name for name in present if name in own]
    if clashing:
        raise OverwriteError(f"{flag} {folder} holds {listed(clashing)}, which a {kind} would replace, but no {kind} "
                             f"(no {marker}); move them away or choose another {flag} (--overwrite replaces only "
                             f"a {kind}'s own files)")
    if not overwrite:
        raise OverwriteError(f"{flag} {folder} is not empty (it holds {listed(present)}); choose a new or empty "
                             f"{flag}, or pass --overwrite to write the {kind} beside them (they are kept)")
    return False


def remove_entries(folder: Path, names: tuple[str, ...]) -> None:
    """Removes the entries `names` of `folder` (files, links, folders); nothing else in it."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

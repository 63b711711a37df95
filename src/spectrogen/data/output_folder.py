"""Where `prepare` writes: checks on `--out`, a hidden staging folder, and the final rename.

Everything is written into a hidden sibling of `--out` and renamed into place only when complete,
so an interrupted run never leaves a half data set that looks finished; a stale staging folder
is plainly named `.NAME.partial-PID`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from spectrogen.data.dataset import METADATA_FILE
from spectrogen.errors import OverwriteError, UsageError


def check_output(out: Path, source: Optional[Path], overwrite: bool) -> None:
    """Raises unless `out` may receive a new data set: absent, empty, or replaced with `overwrite`."""
    if source is not None:
        src, dst = source.resolve(), out.resolve()
        if dst == src or src.is_relative_to(dst) or dst.is_relative_to(src):
            raise UsageError(
                f"--out {out} overlaps the source {source}; write the data set to a folder outside the "
                "source (the source is never modified)"
            )
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise OverwriteError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        what = "already holds a data set" if (out / METADATA_FILE).exists() else "is not empty"
        raise OverwriteError(f"--out {out} {what}; add --overwrite to replace it, or choose another folder")


def staging_folder(out: Path) -> Path:
    """Returns a new, empty hidden folder beside `out` to write into."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    return staging


def publish(staging: Path, out: Path) -> None:
    """Moves the finished `staging` folder to `out`, replacing what was there (already allowed)."""
    if out.exists():
        retired = out.parent / f".{out.name}.replaced-{os.getpid()}"
        os.replace(out, retired)
        os.replace(staging, out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out)

"""Where `prepare` writes: checks on `--out`, a staging folder, and moving the finished data set in.

Everything is written into a staging folder and moved into place only when complete, so an
interrupted run never leaves a half data set that looks finished; a stale staging folder is
plainly named `.NAME.partial-PID`. A data set is five files (DATASET_ENTRIES); `--overwrite`
replaces those and never removes anything else that the folder holds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from spectrogen.data.dataset import FEATURES_FILE, INDEX_FILE, LABELS_FILE, METADATA_FILE, SUMMARY_FILE
from spectrogen.errors import OverwriteError, UsageError
from spectrogen.paths import check_folder_path, check_own_folder

# what a data set consists of; dataset.json is moved in last and out first, so that a folder caught
# half way is never taken for a data set
DATASET_ENTRIES = (FEATURES_FILE, LABELS_FILE, INDEX_FILE, SUMMARY_FILE, METADATA_FILE)


def check_output(out: Path, source: Optional[Path], overwrite: bool) -> None:
    """Raises unless `out` may receive a new data set without losing anything the user made.

    Absent or empty: fine. Holding a data set: replaced with `overwrite` (its five files only).
    Holding other files: refused without `overwrite`; with it the data set is written beside them,
    unless one of them has a data set file's name.
    """
    if source is not None:
        src, dst = Path(source).resolve(), out.resolve()
        if dst == src or src.is_relative_to(dst) or dst.is_relative_to(src):
            raise UsageError(
                f"--out {out} overlaps the source {source}; write the data set to a folder outside the "
                "source (the source is never modified)"
            )
    check_folder_path(out, "--out")
    if check_own_folder(out, own=DATASET_ENTRIES, marker=METADATA_FILE, overwrite=overwrite, flag="--out",
                        kind="data set") and not overwrite:
        raise OverwriteError(f"--out {out} already holds a data set; add --overwrite to replace it (only "
                             "its files are replaced), or choose another folder")


def staging_folder(out: Path) -> Path:
    """Returns a new, empty hidden folder to write into: beside `out`, or inside it when it exists."""
    given, out = out, out.resolve()
    parent = out if out.is_dir() else out.parent
    staging = parent / f".{out.name or 'data'}.partial-{os.getpid()}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
    except OSError as exc:
        raise UsageError(f"--out {given}: cannot write in {parent} ({exc.strerror or exc}); choose a folder "
                         "you can write to") from None
    return staging


def publish(staging: Path, out: Path) -> None:
    """Moves the finished data set in `staging` to `out`, replacing only an earlier data set's files."""
    out = out.resolve()
    if not out.exists():
        os.replace(staging, out)
        return
    retired = out / f".{out.name or 'data'}.replaced-{os.getpid()}"
    retired.mkdir(exist_ok=True)
    for name in reversed(DATASET_ENTRIES):  # dataset.json first: the folder stops being a data set
        if (out / name).exists():
            os.replace(out / name, retired / name)
    for name in DATASET_ENTRIES:  # dataset.json last: the folder is a data set again once whole
        if (staging / name).exists():
            os.replace(staging / name, out / name)
    shutil.rmtree(retired, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)

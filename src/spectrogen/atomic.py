"""Writing a file so that no reader ever sees half of it: a hidden temporary file beside it, then a rename. A hard
kill can leave a temporary file behind, never a truncated file under a final name; `durable` writes also survive
a power cut (the file is flushed before the rename, its folder after it)."""

from __future__ import annotations

import os
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Iterator


def temporary_path(path: Path) -> Path:
    """Returns the hidden name beside `path` that it is written under."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def replacing(path, *, durable: bool = False) -> Iterator[Path]:
    """Yields a temporary path to write; when the block ends it becomes `path`, or is removed if the block fails
    (Ctrl-C too). With `durable` the folder is flushed after the rename (the block flushes the file: `sync`)."""
    path = Path(path)
    temporary = temporary_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as exc:  # Ctrl-C included
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (temporary, str(temporary)):
            exc.filename = str(path)  # the error names the file the caller asked for
        raise
    if durable:
        sync_folder(path.parent)


@contextmanager
def open_replacing(path, mode: str = "w", *, durable: bool = False, **options) -> Iterator[IO]:
    """Yields the temporary file of `path` opened with `mode` and `options` (see `open`); see `replacing`."""
    with replacing(path, durable=durable) as temporary, open(temporary, mode, **options) as handle:
        yield handle
        if durable:
            sync(handle)


def write_text_atomic(path, text: str) -> Path:
    """Returns `path` after writing `text` there (UTF-8), durably and atomically."""
    with open_replacing(path, "w", durable=True, encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def save_figure(figure, path, *, dpi=None, quality: int = 95) -> Path:
    """Returns `path` after writing the matplotlib `figure` there, atomically, as PNG or JPEG (by the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    options = {"pil_kwargs": {"quality": int(quality)}} if fmt == "jpeg" else {}
    with replacing(path) as temporary:  # the format is named: the temporary file's suffix is not the image's
        figure.savefig(temporary, format=fmt, dpi=dpi, **options)
    return path


def sync(handle: IO) -> None:
    """Flushes the open file `handle` to disk (Python's buffer, then the system's)."""
    handle.flush()
    os.fsync(handle.fileno())


def sync_folder(folder: Path) -> None:
    """Flushes `folder` to disk, which makes a rename in it durable; does nothing where folders cannot be opened."""
    with suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

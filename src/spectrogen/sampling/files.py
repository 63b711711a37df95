"""Writing sampling outputs so that none is ever seen half-written (`spectrogen.atomic`), and long ones a
piece at a time: arrays of many samples (`StreamedArray`) and long JSON lists (`Chunks`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from spectrogen.atomic import open_replacing, temporary_path
from spectrogen.data.growing_npy import GrowingNpy


class StreamedArray:
    """An `.npy` file of rows appended batch by batch under a temporary name; `commit` gives it its name."""

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype: str):
        self.path = Path(path)
        self._writer = GrowingNpy(temporary_path(self.path), row_shape, dtype)

    def append(self, rows: np.ndarray) -> None:  # (b, *row_shape)
        self._writer.append(rows)

    def commit(self) -> Path:
        """Returns the final path after closing the file and renaming it there."""
        self._writer.close()
        os.replace(self._writer.path, self.path)
        return self.path

    def discard(self) -> None:
        self._writer.abort()
        self._writer.path.unlink(missing_ok=True)


class Chunks:
    """A long JSON list given as pieces (`make()` returns an iterable of lists), written one piece at a time."""

    def __init__(self, make: Callable[[], Iterable[Sequence]]):
        self.make = make


def write_json(path, record: dict) -> Path:
    """Returns `path` after writing `record` there as JSON (indented); `Chunks` values are written piece by piece."""
    pieces: dict[str, Chunks] = {}

    def hold_place(value):
        if isinstance(value, Chunks):
            marker = f"\0list{len(pieces)}\0"
            pieces[json.dumps(marker)] = value
            return marker
        return {key: hold_place(item) for key, item in value.items()} if isinstance(value, dict) else value

    text = json.dumps(hold_place(record), indent=2)
    with open_replacing(path, "w", encoding="utf-8") as handle:
        position = 0
        if pieces:
            for match in re.finditer("|".join(map(re.escape, pieces)), text):
                handle.write(text[position:match.start()])
                _write_list(handle, pieces[match.group()])
                position = match.end()
        handle.write(text[position:])
    return Path(path)


def _write_list(handle, chunks: Chunks) -> None:
    """Writes the items of `chunks` as one JSON list on one line."""
    handle.write("[")
    first = True
    for piece in chunks.make():
        if len(piece):
            handle.write(("" if first else ", ") + ", ".join(json.dumps(item) for item in piece))
            first = False
    handle.write("]")

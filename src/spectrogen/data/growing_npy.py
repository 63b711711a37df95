"""An `.npy` file (format 1.0) written by appending rows straight to disk, its length unknown in advance.

The header is written first with room to spare and rewritten in place with the final shape on close.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spectrogen.atomic import sync

_MAGIC = b"\x93NUMPY\x01\x00"
#: total header size in bytes; a multiple of 64 (numpy's alignment) with room for any shape
_HEADER_BYTES = 128


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """Returns a format-1.0 header of exactly _HEADER_BYTES bytes describing a C-ordered array."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    body_length = _HEADER_BYTES - len(_MAGIC) - 2
    body = (text + " " * (body_length - len(text) - 1) + "\n").encode("latin1")
    if len(body) != body_length:
        raise ValueError(f"shape {shape} does not fit a {_HEADER_BYTES}-byte .npy header")
    return _MAGIC + body_length.to_bytes(2, "little") + body


class GrowingNpy:
    """Appends rows of shape `row_shape` and dtype `dtype` to an `.npy` file at `path`."""

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype="float32"):
        self.path = Path(path)
        self.row_shape = tuple(int(n) for n in row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._file = open(self.path, "wb")
        self._file.write(_header(self.dtype, (0, *self.row_shape)))

    def append(self, rows: np.ndarray) -> None:
        """Writes `rows` (n, *row_shape) at the end of the file."""
        if tuple(rows.shape[1:]) != self.row_shape:
            raise ValueError(f"rows of shape {tuple(rows.shape[1:])} appended to {self.path.name} "
                             f"of rows {self.row_shape}")
        self._file.write(np.ascontiguousarray(rows, dtype=self.dtype).reshape(-1).view(np.uint8))  # no copy
        self.rows += len(rows)

    def close(self) -> None:
        """Writes the final header and flushes the file to disk."""
        if self._file.closed:
            return
        self._file.seek(0)
        self._file.write(_header(self.dtype, (self.rows, *self.row_shape)))
        sync(self._file)
        self._file.close()

    def abort(self) -> None:
        """Closes the file without finishing it (its folder is about to be removed)."""
        self._file.close()

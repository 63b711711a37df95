"""Reads chosen examples of features.npy by positional reads (`os.preadv`): indexing an `np.memmap` maps every
page it touches, so after one epoch the whole file would count as resident memory instead of about one batch."""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np


class RowReader:
    """Returns rows (examples) of a (N, F, T) float32 array: positional file reads where possible."""

    def __init__(self, features: np.ndarray):
        self.shape = tuple(int(s) for s in features.shape)
        self.path: Optional[str] = getattr(features, "filename", None)
        self.offset = int(getattr(features, "offset", 0))
        # native-order float32 files only ('>f4' differs); anything else, or an in-memory array, is indexed
        readable = (self.path is not None and hasattr(os, "preadv") and features.dtype == np.dtype(np.float32)
                    and features.flags.c_contiguous)
        self._array: Optional[np.ndarray] = None if readable else features
        self._descriptor: Optional[int] = None
        self.row_bytes = 4 * int(np.prod(self.shape[1:]))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, indices: np.ndarray) -> np.ndarray:
        return self.read(indices)  # a batch for a DataLoader given index arrays as its sampler

    def __getstate__(self) -> dict[str, Any]:
        # a DataLoader worker opens the file itself: descriptors do not travel between processes
        state = dict(self.__dict__)
        state["_descriptor"] = None
        return state

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def _fd(self) -> int:
        if self._descriptor is None:
            self._descriptor = os.open(self.path, os.O_RDONLY)
        return self._descriptor

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Returns the rows at `indices`, in that order, as a new (len(indices), F, T) float32 array."""
        indices = np.asarray(indices, dtype=np.int64)
        if self._array is not None:
            return np.ascontiguousarray(self._array[indices], dtype=np.float32)
        if len(indices) and (indices.min() < 0 or indices.max() >= self.shape[0]):
            raise IndexError(f"row index out of range 0..{self.shape[0] - 1}")
        out = np.empty((len(indices), *self.shape[1:]), dtype=np.float32)
        rows = memoryview(out.reshape(-1)).cast("B")  # the rows' bytes, one after another
        descriptor = self._fd()
        for position, index in enumerate(indices.tolist()):
            self._read_into(descriptor, rows[position * self.row_bytes:(position + 1) * self.row_bytes],
                            self.offset + index * self.row_bytes)
        return out

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Returns rows start..stop-1 as a new float32 array (one read for the whole range)."""
        stop = min(stop, self.shape[0])
        if self._array is not None:
            return np.array(self._array[start:stop], dtype=np.float32)
        out = np.empty((max(0, stop - start), *self.shape[1:]), dtype=np.float32)
        if len(out):
            self._read_into(self._fd(), memoryview(out.reshape(-1)).cast("B"), self.offset + start * self.row_bytes)
        return out

    def _read_into(self, descriptor: int, target: memoryview, position: int) -> None:
        done = 0
        while done < len(target):  # preadv may return fewer bytes than asked (large reads, signals)
            count = os.preadv(descriptor, [target[done:]], position + done)
            if count <= 0:
                raise OSError(f"{self.path}: file ends before row data at byte {position + done}")
            done += count

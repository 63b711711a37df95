"""NumPy `.npy` spectrograms, (F, T), (N, F, T) or (N, 1, F, T) per file, memory-mapped and read in slices.
Frequency is axis -2 unless `--freq-axis 1`; examples holding NaN or infinities are dropped and counted."""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from spectrogen.data.skip import SkipFile
from spectrogen.data.sources.base import ArraySource, Item, list_class_files

#: examples converted per slice of a large file
SLICE = 256


def _open(path) -> np.ndarray:
    """Returns the file as a read-only memory map (or array); raises SkipFile when it is not one."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SkipFile(f"not a numeric .npy array ({exc})") from None
    except EOFError:  # numpy's word for a file of 0 bytes
        raise SkipFile("empty file (0 bytes), not a .npy array") from None


def as_examples(array: np.ndarray) -> np.ndarray:
    """Returns `array` viewed as (N, A, B); raises SkipFile for other shapes or non-numeric data."""
    if array.dtype.kind not in "biuf":
        raise SkipFile(f"dtype {array.dtype} is not a real number type")
    if array.ndim in (2, 3):
        return array[None] if array.ndim == 2 else array
    if array.ndim == 4 and array.shape[1] == 1:
        return array[:, 0]
    raise SkipFile(f"shape {tuple(array.shape)} is not (F, T), (N, F, T) or (N, 1, F, T)")


class NpyFiles(ArraySource):
    """`.npy` spectrogram arrays in a folder (or one file), one class per first-level sub-folder."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, (".npy",), ".npy array", self)

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        try:
            shape = as_examples(_open(item.path)).shape[1:]
        except SkipFile:
            return None
        return tuple(shape[::-1]) if self.options.freq_axis == 1 else tuple(shape)

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, None]]:
        examples = as_examples(_open(item.path))  # (N, A, B)
        if len(examples) == 0:
            raise SkipFile("holds no examples (N = 0)")
        dropped = 0
        for start in range(0, len(examples), SLICE):
            chunk = np.asarray(examples[start:start + SLICE], dtype=np.float32)
            if self.options.freq_axis == 1:
                chunk = chunk.transpose(0, 2, 1)
            finite = np.isfinite(chunk).all(axis=(1, 2))
            dropped += int((~finite).sum())
            if finite.any():
                yield np.ascontiguousarray(chunk[finite]), None  # (n, F, T)
        if dropped == len(examples):
            raise SkipFile(f"all {dropped} examples hold NaN or infinite values")
        if dropped:
            raise SkipFile(f"{dropped} of {len(examples)} examples hold NaN or infinite values and were dropped")

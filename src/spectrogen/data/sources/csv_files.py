"""CSV spectrogram files: one 2-D example per file, numbers only, no header, row 0 the lowest frequency
(`--freq-axis 1`: columns are). The delimiter (comma, semicolon, tab or spaces) is sniffed from the first line."""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from spectrogen.data.skip import SkipFile
from spectrogen.data.sources.base import ArraySource, Item, list_class_files


def _delimiter(first_line: str) -> Optional[str]:
    """Returns the delimiter of a CSV line (None: runs of whitespace)."""
    return next((candidate for candidate in (",", ";", "\t") if candidate in first_line), None)


class CsvFiles(ArraySource):
    """CSV spectrograms in a folder, one class per first-level sub-folder."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, (".csv", ".tsv"), "CSV spectrogram", self)

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        # rows x fields of the first line: cheap, and enough to find the shape most files share
        try:
            with open(item.path, "r", encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
                rows = (1 if first.strip() else 0) + sum(1 for line in handle if line.strip())
        except OSError:
            return None
        fields = len(first.split(_delimiter(first))) if first.strip() else 0
        shape = (rows, fields)
        return shape[::-1] if self.options.freq_axis == 1 else shape

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, None]]:
        try:
            with open(item.path, encoding="utf-8", errors="replace") as handle:
                delimiter = _delimiter(handle.readline())
            values = np.loadtxt(item.path, delimiter=delimiter, dtype=np.float64, ndmin=2, encoding="utf-8")
        except OSError as exc:
            raise SkipFile(f"unreadable: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SkipFile(f"not a table of numbers ({str(exc).splitlines()[0]})") from None
        if values.size == 0:
            raise SkipFile("empty: no numbers")
        bad = ~np.isfinite(values)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise SkipFile(f"{int(bad.sum())} values are NaN or infinite (first at row {row + 1}, column {column + 1})")
        if self.options.freq_axis == 1:
            values = values.T
        yield values.astype(np.float32)[None], None  # (1, F, T)

"""CSV files of statistics that grow by whole rows; free of torch, so cheap to read anywhere."""

from __future__ import annotations

import csv
import numbers
from pathlib import Path
from typing import Any, Callable, Mapping

from spectrogen.atomic import open_replacing


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # lossless: the file holds exactly what was measured
    return str(value)


def _number(text: str) -> Any:
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text or None


class CsvLog:
    """A CSV file growing by whole rows, each flushed at once; a new key rewrites it once with the wider header."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def columns(self) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])

    def rows(self) -> list[dict[str, Any]]:
        """Returns every row, numbers parsed (empty cells are None)."""
        if not self.path.exists():
            return []
        with open(self.path, newline="", encoding="utf-8") as handle:
            records = csv.reader(handle)
            columns = next(records, [])
            # a row cut short by a crash has fewer cells than the header: it never finished, skip it
            return [{k: _number(v) for k, v in zip(columns, record)} for record in records
                    if len(record) == len(columns)]

    def create(self, columns: list[str]) -> None:
        """Writes the header `columns` when the file does not exist yet (an empty table is still a table)."""
        if not self.path.exists():
            self._rewrite(columns, [])

    def append(self, row: Mapping[str, Any]) -> None:
        columns = self.columns()
        new = [key for key in row if key not in columns]
        if columns and new:
            self._rewrite(columns + new, self.rows())
            columns = columns + new
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if not columns:
                columns = list(row)
                writer.writerow(columns)
            writer.writerow([_cell(row.get(key)) for key in columns])
            handle.flush()

    def keep(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        """Drops the rows for which `predicate` is false (used on resume to forget undone work)."""
        if self.path.exists():
            self._rewrite(self.columns(), [row for row in self.rows() if predicate(row)])

    def _rewrite(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open_replacing(self.path, "w", durable=True, newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(key)) for key in columns])

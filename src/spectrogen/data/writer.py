"""Writing a data set folder: checks on `--out`, a staging folder (`.NAME.partial-PID`) that examples stream into
(features and labels as growing `.npy` files, index rows, moments), moved in at the end, so an interrupted run never
leaves a half data set that looks finished. `--overwrite` replaces only a data set's DATASET_ENTRIES."""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from spectrogen import __version__
from spectrogen.atomic import sync, write_text_atomic
from spectrogen.data.dataset import (FEATURES_FILE, FORMAT, FORMAT_VERSION, INDEX_FILE, LABELS_FILE, METADATA_FILE,
                                     SUMMARY_FILE)
from spectrogen.errors import UsageError
from spectrogen.paths import check_folder_path, check_own_folder
from spectrogen.spectral.moments import MomentAccumulator
from spectrogen.spectral.representation import Representation

INDEX_COLUMNS = ("source", "offset_s", "item", "label", "class")
# what a data set consists of; dataset.json is moved in last and out first, so that a folder caught
# half way is never taken for a data set
DATASET_ENTRIES = (FEATURES_FILE, LABELS_FILE, INDEX_FILE, SUMMARY_FILE, METADATA_FILE)
#: examples handed to the writer at once by `write_examples` (memory: one chunk as a tensor view)
_CHUNK = 512
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


class DatasetWriter:
    """Writes examples of shape (F, T) into `folder`; `finish` adds dataset.json and summary.json."""

    def __init__(self, folder: Path, shape: tuple[int, int], class_names: Sequence[str]):
        self.folder = folder
        self.shape = tuple(shape)
        self.class_names = list(class_names)
        self._features = GrowingNpy(folder / FEATURES_FILE, self.shape, "float32")
        self._labels = GrowingNpy(folder / LABELS_FILE, (), "int64")
        self._index_file = open(folder / INDEX_FILE, "w", newline="", encoding="utf-8")
        self._index = csv.writer(self._index_file)
        self._index.writerow(INDEX_COLUMNS)
        self._moments = MomentAccumulator()
        self.per_label = np.zeros(max(1, len(self.class_names)), dtype=np.int64)

    @property
    def count(self) -> int:
        return self._features.rows

    def add(self, features: torch.Tensor, labels: np.ndarray, sources: Sequence[str],
            offsets: Sequence[float | str], items: Sequence[int]) -> None:
        """Appends a batch: features (B, F, T), labels (B,), and where each example came from."""
        self._moments.update(features)
        self._features.append(features.detach().cpu().numpy())
        self._labels.append(labels.astype(np.int64, copy=False))
        self.per_label += np.bincount(labels, minlength=len(self.per_label))
        self._index.writerows((source, offset if isinstance(offset, str) else f"{offset:.4f}", item, int(label),
                               self.class_names[label] if self.class_names else "")
                              for source, offset, item, label in zip(sources, offsets, items, labels))

    def counts(self) -> dict[str, int]:
        """Returns the examples written per class name (empty when unlabelled)."""
        return {name: int(n) for name, n in zip(self.class_names, self.per_label)}

    def finish(self, representation: dict[str, Any], source: dict[str, Any], summary: dict[str, Any]) -> dict:
        """Closes the arrays and writes summary.json and dataset.json (last); returns the metadata."""
        self._features.close()
        self._labels.close()
        self._index_file.close()
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "spectrogen_version": __version__,
            "representation": representation,
            "shape": [self.count, *self.shape],
            "class_names": self.class_names,
            "counts": self.counts(),
            "moments": self._moments.result().to_dict(),
            "source": source,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        for name, content in ((SUMMARY_FILE, summary), (METADATA_FILE, metadata)):
            write_text_atomic(self.folder / name, json.dumps(content, indent=2) + "\n")
        return metadata

    def abort(self) -> None:
        """Closes every file without finishing (the staging folder is about to be removed)."""
        self._features.abort()
        self._labels.abort()
        self._index_file.close()


def write_examples(folder: str | Path, features: np.ndarray, labels: np.ndarray | None = None,
                   class_names: Sequence[str] = (), source: str = "arrays") -> dict:
    """Returns the metadata after writing examples (N, F, T) as they are (kind "image"), with `labels` (N,)
    (all 0 when None), as a data set in `folder` (which may exist)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count, shape = len(features), tuple(features.shape[1:])
    labels = np.zeros(count, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    writer = DatasetWriter(folder, shape, class_names)
    for start in range(0, count, _CHUNK):
        end = min(count, start + _CHUNK)
        writer.add(torch.as_tensor(features[start:end], dtype=torch.float32), labels[start:end],
                   [source] * (end - start), [""] * (end - start), range(start, end))
    return writer.finish(Representation(kind="image", image_size=shape).to_dict(), {"kind": source},
                         {"source": source, "examples": count})


def check_output(out: Path, source: Optional[Path], overwrite: bool) -> None:
    """Raises unless `out` may receive a new data set without losing anything the user made: absent or
    empty, or (with `overwrite`) holding a data set or other files none of which has a data set file's name."""
    if source is not None:
        src, dst = Path(source).resolve(), out.resolve()
        if dst == src or src.is_relative_to(dst) or dst.is_relative_to(src):
            raise UsageError(f"--out {out} overlaps the source {source}; write the data set to a folder outside the "
                             "source (the source is never modified)")
    check_folder_path(out, "--out")
    check_own_folder(out, own=DATASET_ENTRIES, marker=METADATA_FILE, overwrite=overwrite, flag="--out",
                     kind="data set", refusal=f"--out {out} already holds a data set; add --overwrite to replace "
                     "it (only its files are replaced), or choose another folder")


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

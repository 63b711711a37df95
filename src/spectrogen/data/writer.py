"""Streams examples into a data set folder: features, labels, index rows and moments in one pass.

Memory stays at one batch: features and labels go straight to their `.npy` files, index rows to
`index.csv`, and the per-frequency moments are accumulated as the batches pass.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from spectrogen import __version__
from spectrogen.atomic import sync
from spectrogen.data.dataset import (
    FEATURES_FILE, FORMAT, FORMAT_VERSION, INDEX_FILE, LABELS_FILE, METADATA_FILE, SUMMARY_FILE,
)
from spectrogen.data.growing_npy import GrowingNpy
from spectrogen.spectral.moments import MomentAccumulator
from spectrogen.spectral.representation import Representation

INDEX_COLUMNS = ("source", "offset_s", "item", "label", "class")
#: examples handed to the writer at once by `write_examples` (memory: one chunk as a tensor view)
_CHUNK = 512


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
        names = self.class_names
        self._index.writerows(
            (source, offset if isinstance(offset, str) else f"{offset:.4f}", item, int(label),
             names[label] if names else "")
            for source, offset, item, label in zip(sources, offsets, items, labels)
        )

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
        _write_json(self.folder / SUMMARY_FILE, summary)
        _write_json(self.folder / METADATA_FILE, metadata)
        return metadata

    def abort(self) -> None:
        """Closes every file without finishing (the staging folder is about to be removed)."""
        self._features.abort()
        self._labels.abort()
        self._index_file.close()


def _write_json(path: Path, content: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")
        sync(handle)


def write_examples(folder: str | Path, features: np.ndarray, labels: np.ndarray | None = None,
                   class_names: Sequence[str] = (), source: str = "arrays") -> dict:
    """Returns the metadata after writing ready-made examples (N, F, T) as a data set in `folder`.

    The examples are stored as they are (representation kind "image": no audio behind them), with
    `labels` (N,) indexing `class_names` (all 0 when None), moments, index and summary, exactly as
    `prepare` writes a data set; `source` names where they came from. The folder may exist.
    """
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

"""The on-disk data set that `spectrogen prepare` writes and training reads (layout: docs/architecture.md). `open`
refuses a file that resolves outside the folder (a symbolic link), so a data set never makes spectrogen read other
files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from spectrogen.data.info import DataInfo
from spectrogen.errors import InputError, SpectrogenError
from spectrogen.spectral.moments import Moments
from spectrogen.spectral.representation import Representation

FORMAT = "spectrogen-dataset"
FORMAT_VERSION = 1
METADATA_FILE = "dataset.json"
FEATURES_FILE = "features.npy"
LABELS_FILE = "labels.npy"
INDEX_FILE = "index.csv"
SUMMARY_FILE = "summary.json"
REQUIRED_KEYS = ("format", "format_version", "representation", "shape", "class_names", "moments")

_MAKE_ONE = "make one with `spectrogen prepare SRC --out DIR`"
_REMAKE = "remake the data set with `spectrogen prepare --overwrite`"


def inside(root: Path, name: str) -> Path:
    """Returns root/name; raises InputError when it resolves outside `root`."""
    path = root / name
    if not path.resolve().is_relative_to(root.resolve()):
        raise InputError(f"points outside the data set folder ({path.resolve()}); refusing to follow it", path)
    return path


def read_metadata(root: Path) -> dict[str, Any]:
    """Returns the parsed, checked dataset.json of the data set folder `root`."""
    if not root.is_dir():
        raise InputError(f"is not a data set folder; {_MAKE_ONE}", root)
    path = inside(root, METADATA_FILE)
    if not path.is_file():
        raise InputError(f"has no {METADATA_FILE}, so it is not a data set made by prepare; {_MAKE_ONE}", root)
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot be read as JSON ({exc}); {_REMAKE}", path) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise InputError(f"is not a spectrogen data set description (format is not {FORMAT!r})", path)
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise InputError(f"has format_version {version!r} but this spectrogen reads version {FORMAT_VERSION}; "
                         + ("upgrade spectrogen" if newer else _REMAKE), path)
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise InputError(f"lacks {', '.join(missing)}; {_REMAKE}", path)
    shape = metadata["shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise InputError(f"shape {shape!r} is not [N, F, T]", path)
    return metadata


class SpectrogramDataset:
    """A prepared data set: features memory-mapped, labels, class names, representation, moments."""

    def __init__(self, root: Path, metadata: dict[str, Any], features: np.ndarray, labels: np.ndarray):
        self.root = root
        self.metadata = metadata
        self.features = features  # (N, F, T) float32 memmap
        self.labels = labels  # (N,) int64
        self.class_names: list[str] = list(metadata["class_names"])
        try:
            self.representation = Representation.from_dict(metadata["representation"])
            self.moments = Moments.from_dict(metadata["moments"])
        except (SpectrogenError, TypeError, ValueError, KeyError) as exc:
            raise InputError(f"{exc}; {_REMAKE}", root / METADATA_FILE) from None

    @classmethod
    def open(cls, path: str | Path) -> "SpectrogramDataset":
        """Returns the data set in folder `path`, checked; raises InputError naming what is wrong."""
        root = Path(path).expanduser()
        metadata = read_metadata(root)
        n, f, t = metadata["shape"]
        features = _load_array(inside(root, FEATURES_FILE), mmap=True)
        if features.dtype != np.float32 or features.shape != (n, f, t):
            raise InputError(f"holds {features.dtype} {features.shape} but {METADATA_FILE} says float32 "
                             f"{(n, f, t)}; the folder is damaged or mixed from two data sets: {_REMAKE}",
                             root / FEATURES_FILE)
        labels = _load_array(inside(root, LABELS_FILE), mmap=False)
        if labels.shape != (n,) or labels.dtype.kind not in "iu":
            raise InputError(f"holds {labels.dtype} {labels.shape}, expected int64 ({n},)", root / LABELS_FILE)
        classes = max(1, len(metadata["class_names"]))
        if n and (labels.min() < 0 or labels.max() >= classes):
            raise InputError(f"holds labels outside 0..{classes - 1} ({classes} classes)", root / LABELS_FILE)
        dataset = cls(root, metadata, features, labels.astype(np.int64))
        if tuple(dataset.representation.shape) != (f, t) or len(dataset.moments.mean) != f:
            raise InputError(f"representation gives examples of {tuple(dataset.representation.shape)} and moments "
                             f"{len(dataset.moments.mean)} frequency bins, but the features are {(f, t)}",
                             root / METADATA_FILE)
        return dataset

    def __len__(self) -> int:
        return len(self.features)

    @property
    def shape(self) -> tuple[int, int]:
        """(F, T) of one example."""
        return tuple(self.features.shape[1:])

    def counts(self) -> dict[str, int]:
        """Returns the number of examples of each class (empty when unlabelled)."""
        per_label = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, per_label)}

    def info(self) -> DataInfo:
        """Returns what a model needs to know: one example is (1, F, T), and the class names."""
        return DataInfo(shape=(1, *self.shape), class_names=list(self.class_names))


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    """Returns the array in `path` (memory-mapped when `mmap`); raises InputError when missing or bad."""
    if not path.is_file():
        raise InputError(f"is missing; the data set is incomplete: {_REMAKE}", path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"is not a readable .npy array ({exc}); {_REMAKE}", path) from None

"""MNIST (or Fashion-MNIST) from its IDX files (`train-*` or `t10k-*` for `--split test`, gzipped or not)
anywhere below a folder; never downloaded. Values in [0, 1], classes "0".."9", bottom row first."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

import numpy as np

from spectrogen.data.skip import SkipFile
from spectrogen.data.sources.base import ArraySource, Item, require_folder
from spectrogen.errors import InputError

#: IDX type codes -> numpy dtypes (big-endian)
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: Path) -> np.ndarray:
    """Returns the array stored in an IDX file (gzipped or not); raises InputError when malformed."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read this IDX file ({exc})", path) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise InputError("not an IDX file (bad magic number)", path)
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(shape) != dims or len(raw) - header != expected:
        raise InputError(
            f"IDX header says shape {shape} ({expected} bytes) but {len(raw) - header} bytes follow", path
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def find_idx(root: Path, prefix: str, kind: str) -> Path:
    """Returns the IDX file `<prefix>-<kind>-idx?-ubyte[.gz]` below `root`; raises InputError naming it."""
    stem = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        found = sorted(root.rglob(name))
        if found:
            return found[0]
    raise InputError(f"holds no {stem} (or {stem}.gz); put the MNIST IDX files there", root)


class Mnist(ArraySource):
    """The MNIST split named by `--split`, from IDX files."""

    def scan(self) -> list[Item]:
        root = require_folder(self.location, "MNIST IDX files")
        prefix = SPLIT_PREFIX[self.options.split]
        images, labels = find_idx(root, prefix, "images"), find_idx(root, prefix, "labels")
        self._labels = read_idx(labels).astype(np.int64)
        self.class_names = [str(digit) for digit in range(int(self._labels.max(initial=9)) + 1)]
        return [Item(images.relative_to(root).as_posix(), 0, images, detail=labels)]

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        images = read_idx(item.path)  # (N, H, W)
        if images.ndim != 3:
            raise SkipFile(f"image file has shape {images.shape}, not (N, H, W)")
        if len(images) != len(self._labels):
            raise SkipFile(f"{len(images)} images but {len(self._labels)} labels in {item.detail.name}")
        scale = 255.0 if images.dtype.kind == "u" else 1.0
        for start in range(0, len(images), 1024):
            chunk = images[start:start + 1024, ::-1].astype(np.float32) / scale  # (n, H, W), bottom row first
            yield chunk, self._labels[start:start + 1024]

"""A random data set in the on-disk format, for benchmarks that time training rather than data."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dataset(folder: Path, count: int, size: int) -> None:
    """Writes `count` random (size x size) log-spectrogram-like examples in the on-disk data set format."""
    from spectrogen.data.writer import write_examples

    folder.mkdir(parents=True)  # a folder that exists is refused: it may hold someone's data
    features = np.random.default_rng(0).normal(-4.0, 1.0, size=(count, size, size)).astype(np.float32)
    write_examples(folder, features, source="random")

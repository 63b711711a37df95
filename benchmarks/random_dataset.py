"""A random data set in the on-disk format, for benchmarks that time training rather than data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_dataset(folder: Path, count: int, size: int) -> None:
    """Writes `count` random (size x size) log-spectrogram-like examples in the on-disk data set format."""
    from spectrogen.spectral.moments import MomentAccumulator
    from spectrogen.spectral.representation import Representation

    folder.mkdir(parents=True)
    features = np.random.default_rng(0).normal(-4.0, 1.0, size=(count, size, size)).astype(np.float32)
    moments = MomentAccumulator()
    moments.update(features)
    metadata = {"format": "spectrogen-dataset", "format_version": 1,
                "representation": Representation(kind="image", image_size=(size, size)).to_dict(),
                "shape": [count, size, size], "class_names": [], "counts": {},
                "moments": moments.result().to_dict(), "source": "random", "created": "benchmark"}
    (folder / "dataset.json").write_text(json.dumps(metadata))
    np.save(folder / "features.npy", features)
    np.save(folder / "labels.npy", np.zeros(count, dtype=np.int64))

"""Tiny real runs for the report tests: built-in engine sounds (audio) and a synthetic image set."""

from pathlib import Path
from typing import Any

import numpy as np

from spectrogen.config import build_config
from spectrogen.data.prepare import prepare
from spectrogen.data.writer import write_examples

SIZE = 32
NUM_SAMPLES = 4


def prepare_engines(folder: Path, count: int = 3) -> Path:
    """Returns `folder` after building builtin:engines there at the tiny models' size."""
    prepare("builtin:engines", folder, settings={"image_size": [SIZE, SIZE]}, count=count, quiet=True)
    return folder


def write_image_dataset(folder: Path, count: int = 16) -> Path:
    """Returns `folder` after writing an unlabelled data set of bright squares (kind "image", no audio)."""
    rng = np.random.default_rng(0)
    features = np.zeros((count, SIZE, SIZE), dtype=np.float32)
    for image, (row, col) in zip(features, rng.integers(0, SIZE - 8, size=(count, 2))):
        image[row:row + 8, col:col + 8] = 1.0
    write_examples(folder, features, source="squares")
    return folder


def tiny_run_config(data: Path, out: Path, model: str = "specgan", **sections: dict[str, Any]):
    """Returns the configuration of a two-epoch run of a very small `model` on `data`."""
    raw = {"name": "tiny",
           "data": {"path": str(data), "normalization": "per_frequency"},
           "model": {"name": model, "image_size": SIZE, "features_g": 4, "features_d": 4, "latent_dim": 8},
           "training": {"epochs": 2, "batch_size": 4, "device": "cpu", "seed": 0, "critic_steps": 1},
           "output": {"output_dir": str(out), "num_samples": NUM_SAMPLES, "plot_every": 100,
                      "griffin_lim_iterations": 4}}
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return build_config(raw)

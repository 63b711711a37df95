from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from spectrogen.config import build_config
from spectrogen.config.loader import apply_overrides


def tone_spectrograms(count: int, bins: int = 32, frames: int = 64, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """Returns log-magnitude-like spectrograms (count, 1, bins, frames) in [-1, 1]: one of four pitches, flat
    or gliding, three harmonics, a random level."""
    rng = np.random.default_rng(seed)
    rows = np.arange(bins)[:, None]
    times = np.arange(frames)[None, :]
    out = np.empty((count, 1, bins, frames), dtype=np.float32)
    for i in range(count):
        pitch = rng.choice([3.0, 5.0, 7.0, 9.0]) + rng.choice([-0.04, 0.0, 0.04]) * times  # (1, T) rows
        magnitude = sum(np.exp(-0.5 * ((rows - h * pitch) / 0.8) ** 2) / h for h in (1, 2, 3))
        magnitude = magnitude * rng.uniform(0.5, 1.5)
        out[i, 0] = np.log(magnitude + 1e-2) + noise * rng.standard_normal((bins, frames))
    low, high = out.min(), out.max()
    return (2.0 * (out - low) / (high - low) - 1.0).astype(np.float32)


def autoencoder_config(overrides: dict[str, Any] | None = None):
    """Returns a resolved configuration of a small autoencoder (hidden 16, 2 levels, latent 8) on the CPU."""
    raw = {"model": {"name": "autoencoder", "latent_dim": 8,
                     "autoencoder": {"hidden_channels": 16, "blocks": 2, "dropout": 0.0}},
           "training": {"epochs": 4, "batch_size": 8, "device": "cpu", "seed": 0}}
    return build_config(apply_overrides(raw, (overrides or {}).items()))


@pytest.fixture
def make_tones():
    return tone_spectrograms


@pytest.fixture
def make_config():
    return autoencoder_config

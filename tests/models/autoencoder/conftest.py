"""Synthetic spectrograms, tiny autoencoder configurations and one tiny trained run shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from spectrogen.config import build_config
from spectrogen.config.loader import apply_overrides

#: a representation small enough for tests: 0.25 s examples of 16 mel bands x 32 frames at 8 kHz
TINY_REPRESENTATION = {"sample_rate": 8000, "n_fft": 128, "hop_length": 64, "n_mels": 16, "frames": 32}


def tone_spectrograms(count: int, bins: int = 32, frames: int = 64, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """Returns log-magnitude-like spectrograms (count, 1, bins, frames) of harmonic tones and chirps in [-1, 1].

    Each example: one of four pitches, flat or gliding up or down, three harmonics, a random level.
    """
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


def write_tones(folder: Path, count: int, seconds: float, sample_rate: int = 8000) -> Path:
    """Returns `folder` after writing `count` gliding sine tones (mono wav) into it."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(count):
        start = 300.0 * 2 ** (i / 3)
        audio = 0.4 * np.sin(2 * np.pi * (start * t + 60.0 * t ** 2))
        soundfile.write(folder / f"tone_{i}.wav", audio.astype(np.float32), sample_rate)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> dict[str, Path]:
    """Prepares a tiny audio data set and trains a tiny autoencoder on it for 2 epochs through `train()`.

    Returns the paths: audio folder, data set, run directory, its final checkpoint.
    """
    import torch

    from spectrogen.data.prepare import prepare
    from spectrogen.training.api import train

    # networks this small are bound by per-call overhead; a second thread only adds synchronisation
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("autoencoder_run")
    audio = write_tones(root / "audio", count=4, seconds=1.0)
    data = root / "data"
    prepare(audio, data, representation="autoencoder", settings=TINY_REPRESENTATION, quiet=True)
    config = build_config({
        "data": {"path": str(data), "normalization": "per_frequency", "validation_fraction": 0.25},
        "model": {"name": "autoencoder", "image_size": 16, "image_width": 32, "latent_dim": 8,
                  "autoencoder": {"hidden_channels": 8, "blocks": 2}},
        "training": {"epochs": 2, "batch_size": 4, "device": "cpu", "seed": 0},
        "output": {"output_dir": str(root / "run"), "plot_every": 100, "num_samples": 4, "report": False,
                   "griffin_lim_iterations": 4},
    })
    run = train(config, quiet=True)
    return {"audio": audio, "data": data, "run": run, "checkpoint": run / "checkpoints" / "final_model.tar"}


@pytest.fixture
def make_tones():
    """The `tone_spectrograms` factory."""
    return tone_spectrograms


@pytest.fixture
def make_config():
    """The `autoencoder_config` factory."""
    return autoencoder_config

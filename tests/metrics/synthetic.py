"""Synthetic spectrogram sets for the metric tests: classes of harmonic stacks over noise, in [-1, 1]."""

import numpy as np

CLASSES = ["c0", "c1", "c2", "c3"]


def harmonic_spectrograms(n: int, classes: int = 4, size: tuple[int, int] = (32, 32), seed: int = 0
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x (n, F, T) float32 in [-1, 1], labels (n,)): class c is a harmonic stack on fundamental row 3 + 2c,
    each example with its own pitch jitter, loudness envelope and noise (easy classes, no two examples alike)."""
    rng = np.random.default_rng(seed)
    rows, frames = size
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    f = np.arange(rows)[:, None]
    t = np.arange(frames)[None, :]
    x = np.empty((n, rows, frames), dtype=np.float32)
    for i, label in enumerate(labels):
        fundamental = 3 + 2 * label + rng.uniform(-0.7, 0.7)
        onset, length = rng.uniform(0, frames / 2), rng.uniform(frames / 3, frames)
        envelope = np.exp(-0.5 * ((t - onset - length / 2) / (length / 3)) ** 2)  # (1, T)
        image = np.zeros((rows, frames))
        for harmonic in range(1, 6):
            image += (0.8 / harmonic) * np.exp(-0.5 * ((f - harmonic * fundamental) / 0.6) ** 2)
        image = image * envelope + 0.08 * rng.standard_normal((rows, frames))
        x[i] = np.clip(2.0 * image - 0.8, -1.0, 1.0)
    return x, labels


def as_log_magnitudes(x: np.ndarray) -> np.ndarray:
    """Returns normalised-looking spectrograms in [-1, 1] as un-normalised log-magnitude-like features."""
    return (4.0 * x - 6.0).astype(np.float32)

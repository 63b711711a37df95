"""The autoencoder's figures: training curves per epoch and original-vs-reconstruction spectrograms.

Built on `matplotlib.figure.Figure` (no pyplot state, no display) and written through a temporary
file, so an interrupted run never leaves half a PNG. Spectrograms are drawn with low frequencies
at the bottom.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

TRAINING_CURVES = "training_curves.png"
SPECTROGRAM_COMPARISON = "spectrogram_comparison.png"

# panel title -> (statistics drawn, y label); keys that never appear in the history are left out
_PANELS = (
    ("Loss", ("loss", "val_loss"), "weighted loss"),
    ("Loss terms", ("mse", "l1", "kl", "val_mse", "val_mae", "val_kl"), "per-element error / KL"),
    ("Cosine similarity", ("val_cosine_similarity",), "cosine similarity (normalised space)"),
    ("Spectral convergence", ("val_spectral_convergence",), "||S - S^||_F / ||S||_F"),
    ("PESQ", ("val_pesq",), "PESQ (Griffin-Lim audio)"),
    ("STOI", ("val_stoi",), "STOI (Griffin-Lim audio)"),
)


def save_figure(figure: Figure, path: Path, dpi: int = 80) -> Path:
    """Returns `path` after writing `figure` there through a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, dpi=dpi)
    os.replace(temporary, path)
    return path


def _series(history: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (epochs, values) of `key` over the epochs where it holds a finite number."""
    points = [(row["epoch"], row[key]) for row in history
              if isinstance(row.get(key), (int, float)) and np.isfinite(row[key])]
    if not points:
        return np.zeros(0), np.zeros(0)
    epochs, values = zip(*points)
    return np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)


def plot_training_curves(history: Sequence[dict[str, Any]], path: Path, notes: Optional[dict[str, str]] = None) -> Path:
    """Returns `path` after drawing the loss, its terms and each validation metric against the epoch.

    `notes` maps a panel title to the text shown when it has no data (e.g. why PESQ was skipped).
    """
    notes = notes or {}
    figure = Figure(figsize=(13, 7))
    grid = figure.subplots(2, 3)
    for axes, (title, keys, label) in zip(grid.flat, _PANELS):
        drawn = False
        for key in keys:
            epochs, values = _series(history, key)
            if len(epochs):
                drawn = True
                style = "--" if key.startswith("val_") and title.startswith("Loss") else "-"
                axes.plot(epochs, values, style, marker="o" if len(epochs) < 30 else None, label=key)
        if drawn:
            axes.legend(loc="best", fontsize="small")
            axes.grid(alpha=0.3)
        else:
            axes.text(0.5, 0.5, notes.get(title, "not measured"), ha="center", va="center", wrap=True,
                      transform=axes.transAxes, fontsize="small")
            axes.set_yticks([])
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
    figure.suptitle("Autoencoder training (val_: held-out split, eval mode)")
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.9, wspace=0.3, hspace=0.4)
    return save_figure(figure, path)


def plot_spectrogram_comparison(originals: np.ndarray, reconstructions: np.ndarray, path: Path, *,
                                seconds_per_frame: Optional[float] = None, frequency_label: str = "frequency bin",
                                value_label: str = "feature value", titles: Optional[Sequence[str]] = None) -> Path:
    """Returns `path` after drawing each original (N, F, T) beside its reconstruction and their |difference|.

    One row per example; originals and reconstructions share one colour scale. With
    `seconds_per_frame` the time axis is in seconds, otherwise in frames.
    """
    originals = np.asarray(originals, dtype=np.float32)
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if originals.shape != reconstructions.shape or originals.ndim != 3:
        raise ValueError(f"originals {originals.shape} and reconstructions {reconstructions.shape} "
                         f"must both be (N, F, T)")
    count, bins, frames = originals.shape
    low = float(min(originals.min(), reconstructions.min()))
    high = float(max(originals.max(), reconstructions.max()))
    difference = np.abs(originals - reconstructions)
    width = frames * seconds_per_frame if seconds_per_frame else frames
    extent = (0.0, width, -0.5, bins - 0.5)
    figure = Figure(figsize=(13, 2.6 * count + 0.8))
    grid = np.asarray(figure.subplots(count, 3, squeeze=False))
    for i in range(count):
        name = titles[i] if titles is not None else f"example {i}"
        panels = ((originals[i], f"{name}: original", low, high, "magma"),
                  (reconstructions[i], f"{name}: reconstruction", low, high, "magma"),
                  (difference[i], f"{name}: |difference|", 0.0, float(difference.max()) or 1.0, "viridis"))
        for axes, (image, title, vmin, vmax, cmap) in zip(grid[i], panels):
            drawn = axes.imshow(image, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                                extent=extent, interpolation="nearest")
            axes.set_title(title, fontsize="small")
            axes.set_xlabel("time (s)" if seconds_per_frame else "time (frames)")
            axes.set_ylabel(frequency_label)
            figure.colorbar(drawn, ax=axes, fraction=0.046, pad=0.02, label=value_label)
    figure.subplots_adjust(left=0.06, right=0.97, bottom=0.5 / (2.6 * count + 0.8),
                           top=1 - 0.4 / (2.6 * count + 0.8), wspace=0.35, hspace=0.6)
    return save_figure(figure, path)

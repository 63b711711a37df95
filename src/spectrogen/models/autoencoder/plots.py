"""The autoencoder's figures: training curves per epoch and original-vs-reconstruction spectrograms.

Built on `matplotlib.figure.Figure` (no pyplot state, no display) and written through a temporary
file, so an interrupted run never leaves half a PNG. Spectrograms are drawn with low frequencies
at the bottom.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from spectrogen.atomic import save_figure

DPI = 80  # the resolution of every figure here, as the trainer's own plots

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
            axes.text(0.5, 0.5, textwrap.fill(notes.get(title, "not measured"), 34), ha="center", va="center",
                      transform=axes.transAxes, fontsize="small")
            axes.set_xticks([])
            axes.set_yticks([])
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
    figure.suptitle("Autoencoder training (val_: held-out split, eval mode)")
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.9, wspace=0.3, hspace=0.4)
    return save_figure(figure, path, dpi=DPI)


def stacked_tiles(images: np.ndarray) -> np.ndarray:
    """Returns images (N, F, T) stacked into one (N*(F+1)-1, T) array for `imshow(origin="lower")`.

    Image 0 lands at the top; each keeps low frequencies at its bottom; tiles are parted by a NaN row.
    """
    count, bins, frames = images.shape
    stacked = np.full((count * (bins + 1) - 1, frames), np.nan, dtype=np.float32)
    for i in range(count):
        bottom = (count - 1 - i) * (bins + 1)
        stacked[bottom:bottom + bins] = images[i]
    return stacked


def plot_spectrogram_comparison(originals: np.ndarray, reconstructions: np.ndarray, path: Path, *,
                                seconds_per_frame: Optional[float] = None, frequency_label: str = "frequency bin",
                                value_label: str = "feature value", titles: Optional[Sequence[str]] = None) -> Path:
    """Returns `path` after drawing originals (N, F, T), their reconstructions and |difference| side by side.

    One column each, examples stacked top to bottom (one image per column: far faster to draw than
    a panel per example); originals and reconstructions share one colour scale. With
    `seconds_per_frame` the time axis is in seconds, otherwise in frames.
    """
    originals = np.asarray(originals, dtype=np.float32)
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if originals.shape != reconstructions.shape or originals.ndim != 3:
        raise ValueError(f"originals {originals.shape} and reconstructions {reconstructions.shape} "
                         f"must both be (N, F, T)")
    count, bins, frames = originals.shape
    titles = list(titles) if titles is not None else [f"example {i}" for i in range(count)]
    low = float(min(originals.min(), reconstructions.min()))
    high = float(max(originals.max(), reconstructions.max()))
    difference = np.abs(originals - reconstructions)
    width = frames * seconds_per_frame if seconds_per_frame else frames
    extent = (0.0, width, -0.5, count * (bins + 1) - 1.5)
    figure = Figure(figsize=(14, 1.2 + min(1.6 * count, 12.0)), layout="constrained")
    columns = figure.subplots(1, 3, sharey=True)
    panels = ((originals, "original", low, high, "magma"),
              (reconstructions, "reconstruction", low, high, "magma"),
              (difference, "|original - reconstruction|", 0.0, float(difference.max()) or 1.0, "viridis"))
    drawn = []
    for axes, (images, title, vmin, vmax, cmap) in zip(columns, panels):
        drawn.append(axes.imshow(stacked_tiles(images), origin="lower", aspect="auto", cmap=cmap, vmin=vmin,
                                 vmax=vmax, extent=extent, interpolation="nearest"))
        axes.set_title(title)
        axes.set_xlabel("time (s)" if seconds_per_frame else "time (frames)")
    figure.colorbar(drawn[0], ax=list(columns[:2]), fraction=0.04, pad=0.01, label=value_label)
    figure.colorbar(drawn[2], ax=columns[2], fraction=0.08, pad=0.02, label="|difference|")
    # each tile's name at its middle; its rows run from the lowest frequency (bottom) up
    centres = [(count - 1 - i) * (bins + 1) + (bins - 1) / 2 for i in range(count)]
    columns[0].set_yticks(centres, titles, fontsize="small")
    columns[0].set_ylabel(f"{frequency_label}, {bins} rows per example, low at the bottom")
    return save_figure(figure, path, dpi=DPI)

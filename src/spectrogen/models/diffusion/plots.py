"""Seed 003's figures of a diffusion run, drawn into `plots/` beside the trainer's own four.

    training_loss.png          the epoch-mean MSE against the epoch
    samples_epoch_001.png ...  the fixed-noise samples of chosen epochs (seed: 1, 5, 10, 20)
    metrics_comparison.png     loss and sample quality against the epoch
    final_samples.png          the samples of the latest epoch

Sample quality here is a figure that needs no feature network: the mean distance from each sample
to its nearest real example (root mean square per value, in normalised units; lower is nearer the
data), plus FID or KID when the trainer's evaluation recorded them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from spectrogen.metrics.neighbours import nearest_distances
from spectrogen.training.plots import plot_sample_grid

GRID_EPOCHS = (1, 5, 10, 20)


def mean_nearest_distance(samples: np.ndarray, reference: np.ndarray) -> float:
    """Returns the mean over samples (N, ...) of the RMS-per-value distance to the nearest of reference (M, ...)."""
    values_per_example = int(np.prod(samples.shape[1:]))
    return float(nearest_distances(samples, reference).mean() / math.sqrt(values_per_example))


def epoch_sample_files(samples_dir: Path) -> dict[int, Path]:
    """Returns {epoch: path} of the `epoch_NNN.npy` sample files in `samples_dir`, in epoch order."""
    files = {}
    for path in sorted(Path(samples_dir).glob("epoch_*.npy")):
        number = path.stem.split("_", 1)[1]
        if number.isdigit():
            files[int(number)] = path
    return dict(sorted(files.items()))


def _series(history: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    points = [(float(row["epoch"]), float(row[key])) for row in history
              if isinstance(row.get(key), (int, float)) and math.isfinite(row[key])]
    return [p[0] for p in points], [p[1] for p in points]


def _save(figure: Figure, path: Path) -> Path:
    # through a temporary file: an interrupted run never leaves half a PNG
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, dpi=80)
    os.replace(temporary, path)
    return path


def plot_training_loss(history: Sequence[dict[str, Any]], path: Path) -> Path:
    """Writes the epoch-mean training loss (and validation loss when recorded) against the epoch."""
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        epochs, values = _series(history, key)
        if epochs:
            axes.plot(epochs, values, marker="o" if len(epochs) < 30 else None, label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel("MSE of the predicted noise (epoch mean)")
    axes.set_title("Diffusion training loss")
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend(loc="upper right")
    return _save(figure, path)


def plot_metrics_comparison(history: Sequence[dict[str, Any]], distances: dict[int, float], path: Path) -> Path:
    """Writes loss (left axis) and sample quality (right axis: nearest-real distance, FID/KID if any) per epoch."""
    figure = Figure(figsize=(8, 4.5))
    loss_axes = figure.add_subplot()
    epochs, losses = _series(history, "loss")
    loss_axes.plot(epochs, losses, color="tab:blue", marker="o" if len(epochs) < 30 else None, label="loss")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss", color="tab:blue")
    quality_axes = loss_axes.twinx()
    if distances:
        quality_axes.plot(list(distances), list(distances.values()), color="tab:orange", marker="s",
                          label="distance of samples to nearest real example")
    for key, colour in (("fid", "tab:red"), ("kid", "tab:purple")):
        metric_epochs, values = _series(history, key)
        if metric_epochs:
            quality_axes.plot(metric_epochs, values, color=colour, marker="^", label=key.upper())
    quality_axes.set_ylabel("sample quality (lower is better)", color="tab:orange")
    handles = loss_axes.get_legend_handles_labels()[0] + quality_axes.get_legend_handles_labels()[0]
    loss_axes.legend(handles=handles, loc="upper right", fontsize="small")
    loss_axes.grid(alpha=0.3)
    loss_axes.set_title("Loss and sample quality by epoch")
    return _save(figure, path)


def draw_diffusion_plots(plots_dir: Path, history: Sequence[dict[str, Any]], reference: Optional[np.ndarray] = None,
                         grid_epochs: Sequence[int] = GRID_EPOCHS) -> list[Path]:
    """Writes seed 003's figures into `plots_dir` from the statistics and `../samples/epoch_NNN.npy`; returns their paths.

    `reference` (M, C, H, W) holds real examples in the normalised range of the samples; without
    it the comparison shows the loss (and FID/KID when recorded) only.
    """
    plots_dir = Path(plots_dir)
    files = epoch_sample_files(plots_dir.parent / "samples")
    written = [plot_training_loss(history, plots_dir / "training_loss.png")]
    for epoch in grid_epochs:
        if epoch in files:
            written.append(plot_sample_grid(np.load(files[epoch]), plots_dir / f"samples_epoch_{epoch:03d}.png",
                                            f"Samples at epoch {epoch}"))
    distances = {}
    if reference is not None and len(reference):
        distances = {epoch: mean_nearest_distance(np.load(path), reference) for epoch, path in files.items()}
    written.append(plot_metrics_comparison(history, distances, plots_dir / "metrics_comparison.png"))
    if files:
        last = max(files)
        written.append(plot_sample_grid(np.load(files[last]), plots_dir / "final_samples.png",
                                        f"Final samples (epoch {last})"))
    return written

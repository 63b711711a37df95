"""The figures of a diffusion run in `plots/`; their sample quality needs no feature network: the RMS distance
from each sample to its nearest real example, plus FID and KID where the run's evaluation recorded them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from spectrogen.atomic import save_figure
from spectrogen.metrics.neighbours import nearest_distances
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.plots import DPI, draw_series, epoch_axes, plot_sample_grid, series
from spectrogen.training.run_directory import RunDirectory, epoch_sample_files

GRID_EPOCHS = (1, 5, 10, 20)


def write_figures(trainer) -> list[Path]:
    """The diffusion family's figure writer (`Trainer(figure_writers=...)`): its figures of the run so far."""
    reference = trainer.method.reference  # (K, C, H, W) real examples seen in training
    return draw_diffusion_plots(trainer.run.plots_dir, trainer.history,
                                None if reference is None else reference.cpu().numpy())


def mean_nearest_distance(samples: np.ndarray, reference: np.ndarray) -> float:
    """Returns the mean over samples (N, ...) of the RMS-per-value distance to the nearest of reference (M, ...)."""
    values_per_example = int(np.prod(samples.shape[1:]))
    return float(nearest_distances(samples, reference).mean() / math.sqrt(values_per_example))


def plot_training_loss(history: Sequence[dict[str, Any]], path: Path) -> Path:
    """Writes the epoch-mean training loss (and validation loss when recorded) against the epoch."""
    figure = Figure(figsize=(7, 4.5))
    axes = epoch_axes(figure.add_subplot(), "Diffusion training loss", "MSE of the predicted noise (epoch mean)")
    if draw_series(axes, history, ("loss", "val_loss"), {"loss": "training loss", "val_loss": "validation loss"}):
        axes.legend(loc="upper right")
    return save_figure(figure, path, dpi=DPI)


def plot_metrics_comparison(history: Sequence[dict[str, Any]], distances: dict[int, float], path: Path,
                            metric_rows: Sequence[dict[str, Any]] = ()) -> Path:
    """Writes one panel per quality figure (nearest-real distance, FID and KID of `metric_rows` from
    checkpoint_metrics.csv), each beside the loss, by epoch: their scales differ by orders of magnitude."""
    panels = [("distance of samples to nearest real example (RMS)", "nearest-real distance",
               sorted(distances.items()))]
    panels += [(key.upper(), key.upper(), list(zip(*series(metric_rows, key)))) for key in ("fid", "kid")
               if len(series(metric_rows, key)[0])]
    figure = Figure(figsize=(8, 3.2 * len(panels)), layout="constrained")  # keeps the right labels inside
    for index, (label, axis_label, points) in enumerate(panels):
        loss_axes = figure.add_subplot(len(panels), 1, index + 1)
        draw_series(loss_axes, history, ["loss"], {"loss": "training loss"}, color="tab:blue")
        loss_axes.set_ylabel("training loss", color="tab:blue")
        loss_axes.grid(alpha=0.3)
        quality_axes = loss_axes.twinx()
        if points:
            quality_axes.plot(*zip(*points), color="tab:orange", marker="s", label=label)  # (epoch, value) pairs
        quality_axes.set_ylabel(f"{axis_label} (lower is better)", color="tab:orange")
        handles = loss_axes.get_legend_handles_labels()[0] + quality_axes.get_legend_handles_labels()[0]
        loss_axes.legend(handles=handles, loc="upper right", fontsize="small")
        if index == 0:
            loss_axes.set_title("Loss and sample quality by epoch")
        if index == len(panels) - 1:
            loss_axes.set_xlabel("epoch")
    return save_figure(figure, path, dpi=DPI)


def draw_diffusion_plots(plots_dir: Path, history: Sequence[dict[str, Any]], reference: Optional[np.ndarray] = None,
                         grid_epochs: Sequence[int] = GRID_EPOCHS) -> list[Path]:
    """Returns the paths of the diffusion figures written to `plots_dir`; `reference` (M, C, H, W): real, normalised."""
    run = RunDirectory(Path(plots_dir).parent)
    files = epoch_sample_files(run.samples_dir)
    written = [plot_training_loss(history, run.plots_dir / "training_loss.png")]
    for epoch in grid_epochs:
        if epoch in files:
            written.append(plot_sample_grid(np.load(files[epoch]), run.plots_dir / f"samples_epoch_{epoch:03d}.png",
                                            f"Samples at epoch {epoch}"))
    distances = {}
    if reference is not None and len(reference):
        distances = {epoch: mean_nearest_distance(np.load(path), reference) for epoch, path in files.items()}
    written.append(plot_metrics_comparison(history, distances, run.plots_dir / "metrics_comparison.png",
                                           CsvLog(run.metrics_csv).rows()))
    if files:
        last = max(files)
        written.append(plot_sample_grid(np.load(files[last]), run.plots_dir / "final_samples.png",
                                        f"Final samples (epoch {last})"))
    return written

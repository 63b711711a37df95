"""The four figures of a run, drawn from the per-epoch statistics on `matplotlib.figure.Figure` (no pyplot), and
the helpers of every figure against the epoch: here, below sampling/ and report/, so that all of them can use them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from spectrogen.atomic import save_figure

PLOT_NAMES = ("epoch_loss_curves.png", "gradient_norms.png", "generated_samples_grid.png",
              "convergence_analysis.png")
DPI = 80


def series(rows: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (epochs, values) of `key` over the rows where it holds a finite number."""
    points = [(row["epoch"], float(row[key])) for row in rows
              if isinstance(row.get(key), (int, float)) and isinstance(row.get("epoch"), (int, float))
              and math.isfinite(row[key])]
    if not points:
        return np.zeros(0), np.zeros(0)
    epochs, values = zip(*points)
    return np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)


def numeric_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Returns the columns holding at least one number, in the order they first appear."""
    return list(dict.fromkeys(key for row in rows for key, value in row.items() if isinstance(value, (int, float))))


def epoch_axes(axes, title: Optional[str], y_label: str, x_label: str = "epoch"):
    """Returns `axes` titled and labelled, with a light grid and whole-number ticks along x."""
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(alpha=0.3)
    axes.xaxis.get_major_locator().set_params(integer=True)
    return axes


def draw_series(axes, rows: Sequence[dict[str, Any]], keys: Sequence[str], labels: Optional[dict[str, str]] = None,
                **style) -> list[np.ndarray]:
    """Returns the values drawn: each key's series against the epoch, labelled by `labels` or else the key."""
    drawn = []
    for key in keys:
        epochs, values = series(rows, key)
        if len(values):
            axes.plot(epochs, values, marker="o" if len(values) < 30 else None, label=(labels or {}).get(key, key),
                      **style)
            drawn.append(values)
    return drawn


def empty_note(axes, text: str, **font) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, **font)
    axes.set_xticks([])
    axes.set_yticks([])


def plot_curves(history: Sequence[dict[str, Any]], path: Path, prefixes: tuple[str, ...], title: str,
                ylabel: str, empty: str, log_scale: bool = False) -> Path:
    """Writes every statistic whose key starts with one of `prefixes` against the epoch (log: if asked, all > 0)."""
    figure = Figure(figsize=(8, 4.5), layout=None)
    axes = epoch_axes(figure.add_subplot(), title, ylabel)
    drawn = draw_series(axes, history, [key for key in numeric_columns(history) if key.startswith(prefixes)])
    if not drawn:
        empty_note(axes, empty)
    else:
        axes.legend(loc="upper right")
        if log_scale and all(np.all(values > 0) for values in drawn):
            axes.set_yscale("log")
    return save_figure(figure, path, dpi=DPI)


def sample_mosaic(samples: np.ndarray, columns: int, gap: float = np.nan, padding: int = 1,
                  rows: Optional[int] = None) -> np.ndarray:
    """Returns samples (n, C, H, W) tiled `padding` apart into one image for `imshow(origin="lower")`, sample 0 at
    the top left (tile rows stacked bottom-up), each tile's low frequencies low."""
    count, _, height, width = samples.shape
    rows = rows or math.ceil(count / columns)
    mosaic = np.full((rows * (height + padding) - padding, columns * (width + padding) - padding), gap, np.float32)
    for i in range(count):
        row, column = divmod(i, columns)
        top = (rows - 1 - row) * (height + padding)
        left = column * (width + padding)
        mosaic[top:top + height, left:left + width] = samples[i, 0]
    return mosaic


def plot_sample_grid(samples: Optional[np.ndarray], path: Path, title: str = "Generated samples") -> Path:
    """Writes samples (n, C, H, W) as a grid of spectrograms (channel 0), low frequencies at the bottom."""
    figure = Figure(figsize=(7, 6))
    axes = figure.add_subplot()
    if samples is None or samples.shape[0] == 0:
        empty_note(axes, "no samples yet")
        return save_figure(figure, path, dpi=DPI)
    columns = max(1, math.ceil(math.sqrt(samples.shape[0])))
    low, high = float(np.nanmin(samples)), float(np.nanmax(samples))
    # one image for the whole grid: far faster to draw than a subplot per sample
    image = axes.imshow(sample_mosaic(samples, columns), origin="lower", aspect="auto", cmap="magma",
                        vmin=low, vmax=high, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_xlabel(f"time (each tile {samples.shape[-1]} frames)")
    axes.set_ylabel(f"frequency (each tile {samples.shape[-2]} rows, low at the bottom)")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.8, label="normalised value")
    return save_figure(figure, path, dpi=DPI)


def plot_convergence(history: Sequence[dict[str, Any]], path: Path, collapse_threshold: float) -> Path:
    """Writes loss stability, the diversity ratio (mode collapse), learning rates and NaN events."""
    figure = Figure(figsize=(10, 7), layout=None)
    grid = figure.subplots(2, 2)
    panels = (
        (grid[0, 0], ["loss_stability"], "loss variation over the window (std / mean |loss|)"),
        (grid[0, 1], ["diversity_ratio"], "sample diversity / real diversity"),
        (grid[1, 0], [key for key in numeric_columns(history) if key.startswith("lr_")], "learning rate"),
        (grid[1, 1], ["nan_events"], "non-finite events in the epoch"),
    )
    for axes, keys, label in panels:
        epoch_axes(axes, None, label)
        if keys == ["nan_events"]:
            epochs, values = series(history, "nan_events")
            drawn = [axes.bar(epochs, values, color="tab:red", label="nan_events")] if len(epochs) else []
        else:
            drawn = draw_series(axes, history, keys)
        if not drawn:
            empty_note(axes, "not measured yet")
            continue
        if keys == ["diversity_ratio"]:
            axes.axhline(collapse_threshold, color="tab:red", linestyle="--", label="collapse threshold")
        if keys[0].startswith("lr_"):
            axes.set_yscale("log")
        axes.legend(loc="upper right", fontsize="small")
    figure.suptitle("Convergence analysis")
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.92, wspace=0.3, hspace=0.3)
    return save_figure(figure, path, dpi=DPI)


def write_plots(history: Sequence[dict[str, Any]], plots_dir: Path, samples: Optional[np.ndarray],
                samples_epoch: Optional[int], collapse_threshold: float) -> list[Path]:
    """Writes the four figures of the run into `plots_dir`; returns their paths."""
    title = f"Generated samples, epoch {samples_epoch}" if samples_epoch else "Generated samples"
    return [plot_curves(history, plots_dir / PLOT_NAMES[0], ("loss", "val_loss"), "Training losses",
                        "mean loss over the epoch", "no loss recorded yet"),
            plot_curves(history, plots_dir / PLOT_NAMES[1], ("grad_norm",), "Gradient norms",
                        "L2 norm of the gradients (epoch mean)", "this model records no gradient norms",
                        log_scale=True),
            plot_sample_grid(samples, plots_dir / PLOT_NAMES[2], title),
            plot_convergence(history, plots_dir / PLOT_NAMES[3], collapse_threshold)]

"""The report's figures as PNG bytes: statistics against the epoch, grouped by what they mean from whichever
columns the run wrote (so one page serves every family), and the sample grid."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from spectrogen.sampling.images import grid_figure
from spectrogen.training.plots import draw_series, epoch_axes, numeric_columns, series

# columns that describe the machine, not the model: left to the summary, not plotted
BOOKKEEPING = {"epoch", "nan_events", "collapse", "seconds", "samples_per_s", "step_time_ms", "cpu_percent",
               "rss_mb", "peak_memory_mb", "gpu_memory_mb", "gpu_utilization", "loss_stability",
               "threads", "alike_class"}
CRITIC_NAMES = {"d_real": "D(x), real", "d_fake": "D(G(z)), generated"}
DPI = 90


@dataclass(frozen=True)
class Plot:
    """One figure of the page: a heading, what it shows, and the PNG."""

    title: str
    caption: str
    png: bytes


def png_bytes(figure: Figure, dpi: int = DPI) -> bytes:
    """Returns `figure` encoded as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def statistic_groups(columns: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    """Returns (title, y label, columns) of each group of epoch statistics that has columns."""
    plotted = [c for c in columns if c not in BOOKKEEPING]
    groups = [
        ("Losses", "mean over the epoch", [c for c in plotted if c.startswith(("loss", "val_loss"))]),
        ("Critic outputs", "mean score", [c for c in plotted if c in CRITIC_NAMES]),
        ("Gradient norms", "mean L2 norm", [c for c in plotted if c.startswith("grad_norm")]),
        ("Learning rates", "learning rate", [c for c in plotted if c.startswith("lr_")]),
        ("Sample diversity", "generated / real",
         [c for c in plotted if c in ("diversity_ratio", "class_diversity_ratio")]),
        ("Mode-seeking term", "1 / spread ratio", [c for c in plotted if c == "mode_seeking"]),
    ]
    taken = {c for _, _, keys in groups for c in keys}
    groups.append(("Other statistics", "mean over the epoch", [c for c in plotted if c not in taken]))
    return [group for group in groups if group[2]]


def _line_axes(title: str, y_label: str, x_label: str = "epoch") -> tuple[Figure, Any]:
    figure = Figure(figsize=(5.6, 3.0), layout="constrained")  # two side by side on the page
    axes = epoch_axes(figure.add_subplot(), title, y_label, x_label)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))  # learning rates read as 1e-4, not 0.000100
    return figure, axes


def statistics_plots(history: Sequence[dict[str, Any]], collapse_threshold: Optional[float] = None) -> list[Plot]:
    """Returns one plot per group of epoch statistics that the run recorded."""
    plots = []
    for title, y_label, keys in statistic_groups(numeric_columns(history)):
        figure, axes = _line_axes(title, y_label)
        drawn = draw_series(axes, history, keys, CRITIC_NAMES, markersize=3)
        if len(keys) > 1:
            axes.legend(loc="best", fontsize=8)
        caption = ", ".join(CRITIC_NAMES.get(key, key) for key in keys)
        if title == "Gradient norms" and all(np.all(values > 0) for values in drawn):
            axes.set_yscale("log")  # the critic's and the generator's norms differ by orders of magnitude
            caption += " (log scale)"
        if title == "Sample diversity" and collapse_threshold is not None:
            axes.axhline(collapse_threshold, color="tab:red", linestyle="--", linewidth=1,
                         label=f"collapse threshold {collapse_threshold:g}")
            axes.legend(loc="best", fontsize=8)
            caption = ("mean pairwise distance of the fixed-noise samples' layouts (averaged to 8x8 cells) "
                       "relative to real examples'; below the dashed line the samples look alike (mode collapse)")
            if "class_diversity_ratio" in keys:
                caption += ("; class_diversity_ratio: the same within the least varied class (16 samples of each "
                            "class against 16 real ones), collapse below monitor.class_collapse_threshold")
        if title == "Mode-seeking term":
            caption = ("mode_seeking (training.mode_seeking): the inverse of how much samples made from different "
                       "noise differ, per unit of noise distance; high when the generator ignores its noise")
        plots.append(Plot(title, caption, png_bytes(figure)))
    return plots


def metric_plot(metrics: Sequence[dict[str, Any]]) -> list[Plot]:
    """Returns one figure with a panel per metric of checkpoint_metrics.csv (none when there are none)."""
    columns = [c for c in numeric_columns(metrics) if c != "epoch"]
    if not columns:
        return []
    cols = min(3, len(columns))
    rows = math.ceil(len(columns) / cols)
    figure = Figure(figsize=(3.6 * cols, 2.6 * rows), layout="constrained")
    for index, key in enumerate(columns):
        axes = epoch_axes(figure.add_subplot(rows, cols, index + 1), None, "")
        axes.set_title(key, fontsize=10)
        axes.plot(*series(metrics, key), marker="o", markersize=3)
    return [Plot("Quality metrics", "computed during training (evaluation.eval_every); "
                                    "see `spectrogen evaluate --help` for what each measures", png_bytes(figure))]


def spectral_profile_plot(profiles: dict[str, Sequence[float]]) -> list[Plot]:
    """Returns the per-frequency level (line) and spread (band) in dB of generated and real spectrograms (none
    when the profiles of evaluation/metrics.json are missing or of different lengths)."""
    sides = [("generated", profiles.get("mean_db"), profiles.get("std_db"), "tab:red"),
             ("real", profiles.get("mean_db_real"), profiles.get("std_db_real"), "tab:blue")]
    lengths = {len(values or ()) for _, mean, std, _ in sides for values in (mean, std)}
    if len(lengths) != 1 or 0 in lengths:
        return []
    figure, axes = _line_axes("Level of each frequency", "dB", "frequency row (low to high)")
    rows = np.arange(lengths.pop())
    for name, mean, std, colour in sides:
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        axes.plot(rows, mean, color=colour, label=name)
        axes.fill_between(rows, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
    axes.legend(loc="best", fontsize=8)
    return [Plot("Level of each frequency", "mean level in dB of each frequency row over examples and frames "
                 "(line) ± its standard deviation (band), generated samples against real examples, from "
                 "evaluation/metrics.json", png_bytes(figure))]


def grid_png(spectrograms: np.ndarray, *, representation, value_label: str, vmin: float, vmax: float,
             captions: Optional[Sequence[str]] = None, title: Optional[str] = None) -> bytes:
    """Returns a PNG of all spectrograms (N, rows, cols) as one grid with a colour bar."""
    figure = grid_figure(spectrograms, representation=representation, captions=captions, title=title,
                         vmin=vmin, vmax=vmax, value_label=value_label)
    return png_bytes(figure, dpi=80)

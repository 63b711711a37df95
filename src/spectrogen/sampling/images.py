"""Spectrogram images, one per example or grids of many, from arrays checked as stacks of spectrograms: (N, 1, H, W),
(N, H, W) (always N spectrograms, never one RGB image) or (H, W), finite numbers. Row 0 is the lowest frequency, drawn
at the bottom; axes are in seconds and Hz when the representation is known, else frames and bins."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from spectrogen.atomic import save_figure
from spectrogen.errors import InputError, UsageError
from spectrogen.sampling.naming import SampleNames
from spectrogen.training.plots import sample_mosaic

IMAGE_FORMATS = ("png", "jpeg")
DEFAULT_COLORMAP = "magma"


def as_spectrogram_stack(array, source=None) -> np.ndarray:
    """Returns `array` as a float32 (N, H, W) stack; raises InputError naming `source` when it is not one."""
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.dtype.kind == "c":
        raise InputError("holds complex values; save magnitudes (np.abs) or log magnitudes instead", source)
    if array.dtype.kind not in "iuf":
        raise InputError(f"holds {array.dtype} data, not numbers; expected a float array of spectrograms", source)
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 4:
        if array.shape[1] != 1:
            raise InputError(f"has shape {array.shape}: (N, C, H, W) with C={array.shape[1]} channels; spectrograms "
                             f"have one channel; select one first, e.g. array[:, 0]", source)
        array = array[:, 0]
    elif array.ndim != 3:
        raise InputError(f"has {array.ndim} dimensions, shape {array.shape}; expected (N, 1, H, W), (N, H, W) or "
                         f"(H, W)", source)
    if array.size == 0:
        raise InputError(f"is empty (shape {array.shape}); there is nothing to draw", source)
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise InputError(f"holds {bad} NaN or infinite values; a spectrogram must be finite", source)
    return array.astype(np.float32, copy=False)


def load_spectrogram_file(path) -> np.ndarray:
    """Returns the (N, H, W) float32 stack stored in a `.npy` file; raises InputError naming the file when it is not."""
    try:
        # allow_pickle=False: an object array could run code while loading
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a folder; give a .npy file, or use --batch-convert for a folder", path) from None
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            raise InputError("holds Python objects (a pickled array), not numbers; it is not read", path) from None
        raise InputError(f"is not a readable .npy array ({exc})", path) from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise InputError("is an .npz archive, not a single .npy array; save one array with np.save", path)
    return as_spectrogram_stack(array, path)


@dataclass(frozen=True)
class SpectrogramAxes:
    """How the columns and rows of one (H, W) spectrogram map to time and frequency."""

    x_extent: tuple[float, float]  # left and right edge, in x units
    x_label: str
    y_label: str
    y_ticks: tuple[tuple[float, str], ...]  # (row position, label); empty: matplotlib's own ticks on rows
    duration: Optional[float] = None  # seconds across the width, when known


def row_frequencies(representation, height: int) -> Optional[np.ndarray]:
    """Returns the centre frequency in Hz of each of `height` rows, or None when rows are not frequencies."""
    kind = getattr(representation, "kind", None)
    if kind == "stft":
        bins = representation.n_fft // 2 + 1 - int(bool(representation.drop_nyquist))  # before any resize
        centres = np.arange(bins) * representation.sample_rate / representation.n_fft
    elif kind == "mel":
        import librosa  # only mel axes need it

        # librosa's Slaney-scale filter bank (spectrogen.spectral.mel): band i peaks at edge i + 1
        fmax = representation.fmax or representation.sample_rate / 2
        edges = librosa.mel_frequencies(representation.n_mels + 2, fmin=representation.fmin or 0.0, fmax=fmax)
        centres = edges[1:-1]
    else:
        return None
    # rows of a resized image sample the original bins at these fractional positions (half-pixel centres)
    positions = (np.arange(height) + 0.5) * len(centres) / height - 0.5
    return np.interp(positions, np.arange(len(centres)), centres)


def spectrogram_axes(representation, height: int, width: int) -> SpectrogramAxes:
    """Returns the axis extents, labels and frequency ticks for an (height, width) image of `representation`."""
    frequencies = row_frequencies(representation, height)
    if frequencies is None or tuple(getattr(representation, "shape", ())) != (height, width):
        is_image = getattr(representation, "kind", None) == "image"
        return SpectrogramAxes((-0.5, width - 0.5), "column" if is_image else "time (frames)",
                               "row" if is_image else "frequency (bins)", ())
    duration = representation.num_samples / representation.sample_rate
    unit, scale = ("kHz", 1e-3) if frequencies[-1] >= 2000 else ("Hz", 1.0)
    if representation.kind == "mel":  # the mel scale is nearly logarithmic above 1 kHz: 1-2-5 steps look even
        round_hz = [m * 10.0 ** e for e in range(2, 5) for m in (1, 2, 5)]
    else:
        round_hz = list(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(frequencies[0], frequencies[-1]))
    hz_ticks = [f for f in round_hz if frequencies[0] <= f <= frequencies[-1]]
    rows = np.interp(hz_ticks, frequencies, np.arange(height))
    ticks, last = [], -np.inf
    for row, hz in zip(rows, hz_ticks):
        if row - last >= 0.06 * height:  # labels closer than this would overlap
            ticks.append((float(row), f"{hz * scale:g}"))
            last = row
    scale_note = ", mel scale" if representation.kind == "mel" else ""
    return SpectrogramAxes((0.0, duration), "time (s)", f"frequency ({unit}{scale_note})", tuple(ticks), duration)


def check_colormap(name: str):
    """Returns the matplotlib colormap called `name`; raises UsageError listing a few when there is none."""
    try:
        return matplotlib.colormaps[name]
    except KeyError:
        raise UsageError(f"unknown colormap {name!r}; try magma, viridis, inferno, gray or any matplotlib "
                         f"colormap name") from None


def value_range(stack: np.ndarray, vmin: Optional[float], vmax: Optional[float]) -> tuple[float, float]:
    """Returns the colour range: the given bounds, else the stack's own min and max (one scale for all)."""
    low = float(np.min(stack)) if vmin is None else float(vmin)
    high = float(np.max(stack)) if vmax is None else float(vmax)
    return low, high if high > low else low + 1.0  # a constant image still needs a non-empty colour range


def spectrogram_figure(spectrogram: np.ndarray, *, representation=None, title: Optional[str] = None,
                       colormap: str = DEFAULT_COLORMAP, vmin: Optional[float] = None,
                       vmax: Optional[float] = None, value_label: str = "value") -> Figure:
    """Returns a figure of one (H, W) spectrogram with labelled axes and a colour bar, low frequencies at the bottom."""
    height, width = spectrogram.shape
    axes = spectrogram_axes(representation, height, width)
    # fixed axes positions: a layout engine would cost more than the drawing itself
    figure = Figure(figsize=(5.0, 3.6), dpi=100)
    ax = figure.add_axes((0.14, 0.14, 0.64, 0.76))
    image = ax.imshow(spectrogram, origin="lower", aspect="auto", cmap=check_colormap(colormap), vmin=vmin,
                      vmax=vmax, interpolation="nearest", extent=(*axes.x_extent, -0.5, height - 0.5))
    ax.set_xlabel(axes.x_label)
    ax.set_ylabel(axes.y_label)
    if axes.y_ticks:
        ax.set_yticks([r for r, _ in axes.y_ticks], [label for _, label in axes.y_ticks])
    figure.colorbar(image, cax=figure.add_axes((0.81, 0.14, 0.03, 0.76)), label=value_label)
    ax.set_title(title)
    return figure


def image_format(name: str) -> str:
    """Returns the canonical image format of `name` (png, jpeg; jpg is jpeg)."""
    fmt = {"jpg": "jpeg"}.get(name.lower(), name.lower())
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image format {name!r} is not one of {', '.join(IMAGE_FORMATS)}")
    return fmt


def save_images(spectrograms, out_dir, *, names: Optional[Sequence[str]] = None, fmt: str = "png",
                quality: int = 95, colormap: str = DEFAULT_COLORMAP, representation=None,
                vmin: Optional[float] = None, vmax: Optional[float] = None, value_label: str = "value") -> list[Path]:
    """Returns the paths of one image per spectrogram written into `out_dir` (one colour scale for all)."""
    stack = as_spectrogram_stack(spectrograms)  # (N, H, W)
    names = list(names) if names is not None else SampleNames(len(stack)).names(0, len(stack))
    if len(names) != len(stack):
        raise ValueError(f"{len(names)} names for {len(stack)} spectrograms")
    suffix = image_format(fmt)
    low, high = value_range(stack, vmin, vmax)
    return [save_figure(spectrogram_figure(spectrogram, representation=representation, title=name, colormap=colormap,
                                           vmin=low, vmax=high, value_label=value_label),
                        Path(out_dir) / f"{name}.{suffix}", quality=quality) for spectrogram, name in zip(stack, names)]


def grid_shape(n: int) -> tuple[int, int]:
    """Returns near-square (rows, cols) for `n` tiles: cols = ceil(sqrt(n)), rows <= cols <= rows + 1."""
    if n < 1:
        raise ValueError(f"a grid needs at least one tile, got {n}")
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def make_grid(spectrograms, *, rows: Optional[int] = None, cols: Optional[int] = None, padding: int = 2,
              pad_value: float = float("nan")) -> np.ndarray:
    """Returns one (rows*(H+p)+p, cols*(W+p)+p) image of all spectrograms, to show with row 0 on top: tiles
    left to right, top to bottom, each with its low frequencies at its bottom edge. Padding and empty tiles
    hold `pad_value` (NaN draws as the background)."""
    stack = as_spectrogram_stack(spectrograms)  # (N, H, W)
    n = len(stack)
    if rows is None or cols is None:
        rows, cols = grid_shape(n) if rows is None and cols is None else (
            rows or math.ceil(n / cols), cols or math.ceil(n / rows))
    if rows * cols < n:
        raise ValueError(f"a {rows}x{cols} grid cannot hold {n} spectrograms")
    # the training plots' mosaic, framed and turned upside down: row 0 on top
    mosaic = sample_mosaic(stack[:, None], cols, pad_value, padding, rows)
    return np.pad(mosaic, padding, constant_values=pad_value)[::-1].copy()


def grid_figure(spectrograms, *, representation=None, captions: Optional[Sequence[str]] = None,
                title: Optional[str] = None, colormap: str = DEFAULT_COLORMAP, vmin: Optional[float] = None,
                vmax: Optional[float] = None, value_label: str = "value") -> Figure:
    """Returns a figure of all spectrograms as one near-square grid (one image, not N sub-plots) with a colour bar."""
    stack = as_spectrogram_stack(spectrograms)  # (N, H, W)
    n, height, width = stack.shape
    rows, cols = grid_shape(n)
    padding = max(1, round(0.03 * max(height, width)))
    grid = make_grid(stack, rows=rows, cols=cols, padding=padding)
    low, high = value_range(stack, vmin, vmax)
    figure = Figure(figsize=(min(2.0 + 1.6 * cols, 20.0), min(1.0 + 1.5 * rows, 20.0)), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    cmap = check_colormap(colormap).with_extremes(bad="white")  # padding and empty tiles
    image = ax.imshow(grid, cmap=cmap, vmin=low, vmax=high, interpolation="nearest", aspect="auto")
    # the scale of one tile, on the bottom-left tile
    axes = spectrogram_axes(representation, height, width)
    left, bottom = padding, padding + (rows - 1) * (height + padding) + height - 1  # bottom-left pixel of that tile
    end = f"{axes.duration:.3g}" if axes.duration is not None else str(width)
    ax.set_xticks([left - 0.5, left + width - 0.5], ["0", end])
    y_ticks = axes.y_ticks or ((0.0, "0"), (height - 1.0, str(height - 1)))
    ax.set_yticks([bottom - r for r, _ in y_ticks], [label for _, label in y_ticks])
    ax.set_xlabel(f"{axes.x_label}, each tile")
    ax.set_ylabel(f"{axes.y_label}, each tile")
    for index, caption in enumerate(captions or ()):
        row, col = divmod(index, cols)
        ax.text(padding + col * (width + padding) + 1, padding + row * (height + padding) + 1, caption,
                color="white", fontsize=7, va="top", ha="left")
    figure.colorbar(image, ax=ax, label=value_label, shrink=0.8)
    if title:
        ax.set_title(title)
    return figure


def save_grid(spectrograms, path, *, quality: int = 95, **options) -> Path:
    """Returns `path` after writing the grid figure of `spectrograms` there (PNG or JPEG by suffix)."""
    path = Path(path)
    image_format(path.suffix.lstrip("."))  # a ValueError for other suffixes, before drawing
    return save_figure(grid_figure(spectrograms, **options), path, quality=quality)

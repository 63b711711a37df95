"""Spectrogram images: near-square grids, low frequencies at the bottom, axes in seconds and Hz."""

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from spectrogen.sampling.images import (grid_figure, grid_shape, make_grid, row_frequencies, save_grid, save_images,
                                        spectrogram_axes, spectrogram_figure)

# the SpecGAN representation's numbers (16 kHz, n_fft 256, hop 128, Nyquist dropped, 128 x 128)
SPECGAN_LIKE = SimpleNamespace(kind="stft", sample_rate=16000, n_fft=256, drop_nyquist=True, num_samples=16384,
                               shape=(128, 128))
MEL_LIKE = SimpleNamespace(kind="mel", sample_rate=16000, n_fft=1024, n_mels=64, fmin=0.0, fmax=None,
                           num_samples=16384, shape=(64, 128))


def test_grid_shape_is_near_square_and_just_big_enough():
    for n in range(1, 300):
        rows, cols = grid_shape(n)
        assert rows * cols >= n > (rows - 1) * cols, n  # no empty row
        assert 0 <= cols - rows <= 1, n


def test_make_grid_places_tiles_row_major_with_low_frequencies_at_each_tile_bottom():
    stack = np.random.default_rng(0).normal(size=(5, 1, 6, 7)).astype(np.float32)  # (N, 1, H, W)
    grid = make_grid(stack, padding=1)
    rows, cols = grid_shape(5)
    assert grid.shape == (rows * 7 + 1, cols * 8 + 1)
    for index in range(5):
        row, col = divmod(index, cols)
        tile = grid[1 + row * 7:1 + row * 7 + 6, 1 + col * 8:1 + col * 8 + 7]
        np.testing.assert_array_equal(tile[::-1], stack[index, 0])  # frequency row 0 is the tile's last row
    assert np.isnan(grid[0]).all() and np.isnan(grid[:, 0]).all()  # padding
    assert np.isnan(grid[1 + 7:1 + 7 + 6, 1 + 2 * 8:1 + 2 * 8 + 7]).all()  # the sixth cell of a 2x3 grid: empty


def test_figure_draws_low_frequencies_at_the_bottom():
    spectrogram = np.zeros((32, 32), np.float32)
    spectrogram[:4] = 1.0  # energy only in the lowest frequency rows
    figure = spectrogram_figure(spectrogram, colormap="gray")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)  # rows top to bottom
    box, height = figure.axes[0].get_window_extent(), pixels.shape[0]
    inside = pixels[int(height - box.y1) + 2:int(height - box.y0) - 2, int(box.x0) + 2:int(box.x1) - 2]  # the axes
    brightness = inside.mean(axis=(1, 2))  # per pixel row, top to bottom
    tenth = len(brightness) // 10
    assert brightness[-tenth:].mean() > 200 and brightness[:tenth].mean() < 50


def test_stft_axes_are_seconds_and_hertz():
    axes = spectrogram_axes(SPECGAN_LIKE, 128, 128)
    assert axes.x_extent == (0.0, 16384 / 16000)
    assert "kHz" in axes.y_label
    frequencies = row_frequencies(SPECGAN_LIKE, 128)
    np.testing.assert_allclose(frequencies[[0, 1, 127]], [0.0, 62.5, 127 * 62.5])
    ticks = dict((label, row) for row, label in axes.y_ticks)
    assert ticks["2"] == pytest.approx(2000 / 62.5)  # 2 kHz is bin 32


def test_mel_axes_follow_the_mel_scale():
    frequencies = row_frequencies(MEL_LIKE, 64)
    steps = np.diff(frequencies)
    assert (steps > 0).all() and steps[-1] > 3 * steps[0]  # bands widen with frequency
    axes = spectrogram_axes(MEL_LIKE, 64, 128)
    assert "mel" in axes.y_label
    rows = [row for row, _ in axes.y_ticks]
    hz = [float(label) * 1000 for _, label in axes.y_ticks]
    assert rows == sorted(rows) and len(rows) >= 3
    np.testing.assert_allclose(np.interp(rows, np.arange(64), frequencies), hz, rtol=1e-6)


def test_unknown_or_mismatched_representation_falls_back_to_bins():
    assert spectrogram_axes(None, 10, 20).y_label == "frequency (bins)"
    assert spectrogram_axes(SPECGAN_LIKE, 64, 64).x_label == "time (frames)"  # not the representation's shape


def test_save_images_names_and_formats(tmp_path):
    stack = np.random.default_rng(1).random((3, 1, 16, 16)).astype(np.float32)
    png = save_images(stack, tmp_path / "png")
    assert [p.name for p in png] == ["sample_01.png", "sample_02.png", "sample_03.png"]
    assert all(Image.open(p).format == "PNG" for p in png)
    low = save_images(stack[:1], tmp_path / "low", fmt="jpeg", quality=10)[0]
    high = save_images(stack[:1], tmp_path / "high", fmt="jpg", quality=95)[0]
    assert Image.open(low).format == "JPEG" and low.suffix == ".jpeg"
    assert low.stat().st_size < high.stat().st_size  # the quality setting reaches the encoder


def test_grid_file_and_captions(tmp_path):
    stack = np.random.default_rng(2).random((7, 16, 24)).astype(np.float32)
    assert Image.open(save_grid(stack, tmp_path / "grid.png", captions=[f"c{i}" for i in range(7)])).size[0] > 200
    assert {"a", "b"} <= {t.get_text() for t in grid_figure(stack, captions=["a", "b"]).axes[0].texts}

"""The run's figures: written as PNGs, and the sample grid with low frequencies at the bottom."""

import numpy as np
from PIL import Image

from spectrogen.training.plots import PLOT_NAMES, plot_sample_grid, sample_mosaic, write_plots


def history(epochs: int) -> list[dict]:
    return [{"epoch": e, "loss_g": 1.0 / e, "loss_d": 0.7, "grad_norm_g": 2.0, "grad_norm_d": 1.0,
             "lr_generator": 2e-4, "nan_events": int(e == 2), "loss_stability": 0.1 if e > 2 else None,
             "diversity_ratio": 0.5} for e in range(1, epochs + 1)]


def test_all_four_figures_are_written_as_png(tmp_path):
    samples = np.random.default_rng(0).uniform(-1, 1, size=(4, 1, 8, 8))
    paths = write_plots(history(4), tmp_path / "plots", samples, 4, collapse_threshold=0.1)
    assert [p.name for p in paths] == list(PLOT_NAMES)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(PLOT_NAMES)  # no temporary files


def test_mosaic_puts_sample_zero_top_left_with_its_row_zero_lowest():
    samples = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 1, 2, 2)
    mosaic = sample_mosaic(samples, columns=2)  # 2 tile rows; origin="lower" draws array row 0 at the bottom
    assert mosaic.shape == (5, 5)
    np.testing.assert_array_equal(mosaic[3:5, 0:2], samples[0, 0])  # top tile row holds sample 0
    np.testing.assert_array_equal(mosaic[0:2, 0:2], samples[2, 0])


def test_grid_image_shows_the_low_frequency_row_at_the_bottom(tmp_path):
    samples = np.full((1, 1, 16, 16), -1.0)
    samples[0, 0, 0, :] = 1.0  # energy in the lowest frequency row only
    path = plot_sample_grid(samples, tmp_path / "grid.png")
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    column = pixels[:, pixels.shape[1] // 3]  # a vertical line through the spectrogram, not the colour bar
    # magma's top colour is pale yellow; its bottom colour is near black (white is the background)
    band = np.flatnonzero((column[:, 0] > 230) & (column[:, 1] > 230) & (column[:, 2] < 215))
    dark = np.flatnonzero(column.max(axis=1) < 60)
    assert len(band) > 0 and len(dark) > 10 * len(band)
    assert band.min() > np.median(dark)  # image rows grow downwards: the band is below the dark body

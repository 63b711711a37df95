"""A diffusion run through the one trainer: its figures, `spectrogen sample`, an exact resume."""

from pathlib import Path

import numpy as np
import pytest

from spectrogen.api import train
from spectrogen.cli.main import main
from spectrogen.config import build_config

from common import TINY_DIFFUSION, epoch_rows, write_dataset

DIFFUSION_PLOTS = ("training_loss.png", "samples_epoch_001.png", "metrics_comparison.png", "final_samples.png")


@pytest.fixture
def bars(tmp_path) -> Path:
    """Writes a prepared data set of 16 8x8 images in two classes: one bright row or one bright column."""
    rng = np.random.default_rng(0)
    labels = np.arange(16) % 2
    features = 0.1 * rng.standard_normal((16, 8, 8)).astype(np.float32)
    for i, label in enumerate(labels):
        position = rng.integers(0, 8)
        if label:
            features[i, :, position] += 1.0
        else:
            features[i, position, :] += 1.0
    return write_dataset(tmp_path / "data", features, labels, ["row", "column"])


def config_for(data: Path, out: Path, epochs: int):
    return build_config({
        "data": {"path": str(data), "normalization": "minmax", "validation_fraction": 0.0},
        "model": {"name": "diffusion", "image_size": 8, "diffusion": TINY_DIFFUSION},
        "training": {"epochs": epochs, "batch_size": 8, "device": "cpu", "seed": 0},
        "output": {"output_dir": str(out), "plot_every": 100, "log_every": 1, "num_samples": 4, "report": False},
    })


def test_a_run_writes_its_figures_and_spectrogen_sample_uses_its_checkpoint(bars, tmp_path):
    run = train(config_for(bars, tmp_path / "run", 1), quiet=True)
    for name in DIFFUSION_PLOTS:
        assert (run / "plots" / name).stat().st_size > 1000, name

    checkpoint = str(run / "checkpoints" / "final_model.tar")
    for out in ("first", "again"):
        assert main(["sample", checkpoint, "--n", "3", "--out", str(tmp_path / out), "--seed", "5", "--quiet"]) == 0
    samples = np.load(tmp_path / "first" / "samples.npy")
    assert samples.shape == (3, 1, 8, 8) and np.isfinite(samples).all()
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "samples.npy"), samples)


def test_a_stopped_run_resumes_to_the_same_numbers(bars, tmp_path, quick_plots):
    whole = train(config_for(bars, tmp_path / "whole", 2), quiet=True)
    parts = train(config_for(bars, tmp_path / "parts", 1), quiet=True)
    train(None, resume=parts, overrides=[("training.epochs", 2)], quiet=True)
    rows_whole, rows_parts = epoch_rows(whole), epoch_rows(parts)
    assert [row["epoch"] for row in rows_parts] == [1, 2]
    # the resumed epoch repeats the uninterrupted one's operations in the same order: equal to round-off
    assert rows_parts[1]["loss"] == pytest.approx(rows_whole[1]["loss"], rel=1e-6)
    np.testing.assert_allclose(np.load(parts / "samples" / "epoch_002.npy"),
                               np.load(whole / "samples" / "epoch_002.npy"), rtol=1e-5, atol=1e-6)

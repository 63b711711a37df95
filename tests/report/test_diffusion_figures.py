"""The figures of a diffusion run, and the quick quality figure they plot."""

import math

import numpy as np
import pytest

from spectrogen.report.diffusion_figures import draw_diffusion_plots, mean_nearest_distance
from spectrogen.training.run_directory import epoch_sample_files
from spectrogen.training.csv_log import CsvLog


def test_mean_nearest_distance_is_the_rms_distance_to_the_closest_reference():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((5, 1, 4, 6)).astype(np.float32)
    samples = rng.standard_normal((7, 1, 4, 6)).astype(np.float32)
    brute = np.mean([min(math.sqrt(np.mean((s - r) ** 2)) for r in reference) for s in samples])
    assert mean_nearest_distance(samples, reference) == pytest.approx(brute, rel=1e-5)
    assert mean_nearest_distance(reference, reference) == pytest.approx(0.0, abs=1e-3)


def test_figures_for_the_chosen_epochs_comparison_and_final_samples(tmp_path):
    samples_dir, plots_dir = tmp_path / "samples", tmp_path / "plots"
    samples_dir.mkdir()
    rng = np.random.default_rng(1)
    for epoch in (1, 2, 5, 7):
        np.save(samples_dir / f"epoch_{epoch:03d}.npy", rng.uniform(-1, 1, (4, 1, 8, 8)).astype(np.float32))
    (samples_dir / "epoch_notes.npy").write_bytes(b"")  # not an epoch: ignored
    CsvLog(tmp_path / "epochs_statistics" / "checkpoint_metrics.csv").append({"epoch": 5, "fid": 12.5})
    history = [{"epoch": e, "loss": 1.0 / e} for e in range(1, 8)]

    written = draw_diffusion_plots(plots_dir, history, reference=rng.uniform(-1, 1, (6, 1, 8, 8)))

    assert list(epoch_sample_files(samples_dir)) == [1, 2, 5, 7]
    names = sorted(path.name for path in written)
    assert names == ["final_samples.png", "metrics_comparison.png", "samples_epoch_001.png",
                     "samples_epoch_005.png", "training_loss.png"]
    for path in written:
        assert path.stat().st_size > 1000

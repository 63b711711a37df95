"""The run directory: rewinding for resume, samples files (refusals and --overwrite: tests/reliability)."""

from __future__ import annotations

import numpy as np

from spectrogen.training.csv_log import CsvLog
from spectrogen.training.run_directory import RunDirectory


def test_rewind_forgets_rows_and_files_after_the_resumed_point(tmp_path):
    run = RunDirectory(tmp_path)
    run.create()
    for epoch in range(1, 5):
        CsvLog(run.epoch_csv).append({"epoch": epoch, "loss": float(epoch)})
        for iteration in (2, 4):
            CsvLog(run.iterations_csv(epoch)).append({"epoch": epoch, "iteration": iteration})
        run.save_samples(epoch, np.zeros((2, 1, 4, 4)))
    CsvLog(run.metrics_csv).append({"epoch": 3, "fid": 1.0})
    (run.checkpoints_dir / ".checkpoint_epoch_4.tar.99.tmp").write_bytes(b"partial")

    run.rewind(epoch=2, step_in_epoch=2)  # two full epochs and 2 steps of the third were saved

    assert [row["epoch"] for row in CsvLog(run.epoch_csv).rows()] == [1, 2]
    assert CsvLog(run.metrics_csv).rows() == []
    assert [row["iteration"] for row in CsvLog(run.iterations_csv(3)).rows()] == [2]
    assert not run.iterations_csv(4).parent.exists()
    assert sorted(p.name for p in run.samples_dir.iterdir()) == ["epoch_001.npy", "epoch_002.npy"]
    assert list(run.checkpoints_dir.iterdir()) == []


def test_samples_are_float32_with_three_digit_epoch_names(tmp_path):
    run = RunDirectory(tmp_path)
    run.create()
    samples = np.random.default_rng(0).normal(size=(3, 1, 8, 6))
    path = run.save_samples(7, samples)
    assert path.name == "epoch_007.npy"
    loaded = np.load(path)
    assert loaded.dtype == np.float32 and loaded.shape == (3, 1, 8, 6)
    np.testing.assert_allclose(loaded, samples, rtol=1e-6)

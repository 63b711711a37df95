"""The run directory: refusing to reuse a run, clearing only what a run writes, rewinding for resume."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogen.errors import OverwriteError
from spectrogen.training.run_directory import RunDirectory
from spectrogen.training.csv_log import CsvLog


def test_a_folder_holding_a_run_is_refused_and_overwrite_keeps_unrelated_files(tmp_path):
    run = RunDirectory(tmp_path / "out")
    run.root.mkdir()
    (run.root / "my_notes.txt").write_text("keep me")
    assert not run.holds_run()
    run.refuse_existing()  # a folder with other files is fine
    run.create()
    run.write_config({"name": "x"})
    assert run.holds_run()
    with pytest.raises(OverwriteError, match="--resume") as error:
        run.refuse_existing()
    assert str(run.root) in str(error.value)
    run.clear_run()
    assert not run.holds_run()
    assert (run.root / "my_notes.txt").read_text() == "keep me"


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

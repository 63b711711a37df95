"""Resuming: a run stopped at epoch k (or inside it) continues to the same numbers as an uninterrupted run, and
the rows and files written after its checkpoint are forgotten."""

import numpy as np
import pytest

from spectrogen.api import train
from spectrogen.errors import UsageError
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.run_directory import RunDirectory

from common import assert_same_run, iteration_rows
from training_helpers import tiny_config


# a resumed run repeats the uninterrupted one's operations in the same order: tight tolerances hold on any CPU
SAME = {"keys": ("loss_g", "loss_d", "grad_norm_g"), "rel": 1e-6, "abs_tol": 1e-9}


@pytest.fixture
def reference_run(tone_data, tmp_path, tiny_method, quick_plots):
    """An uninterrupted run of 3 epochs; the tests that ask for it train the tiny method too, figures skipped."""
    return train(tiny_config(tone_data, tmp_path / "reference", {"training.epochs": 3}), quiet=True)


def test_run_stopped_at_epoch_k_resumes_to_the_same_losses(tone_data, tmp_path, reference_run):
    out = train(tiny_config(tone_data, tmp_path / "stopped", {"training.epochs": 2}), quiet=True)
    assert train(None, resume=out, overrides=[("training.epochs", 3)], quiet=True) == out
    assert_same_run(out, reference_run, **SAME)
    assert [row["iteration"] for row in iteration_rows(out, 3)] == [2, 4, 6]


def test_resume_from_an_older_checkpoint_drops_the_rows_written_after_it(tone_data, tmp_path, reference_run):
    out = train(tiny_config(tone_data, tmp_path / "crashed", {"training.epochs": 3}), quiet=True)
    # as if the process died after epoch 3's rows were written but before its checkpoints
    for name in ("checkpoint_epoch_3.tar", "final_model.tar"):
        (out / "checkpoints" / name).unlink()
    train(None, resume=out / "checkpoints" / "checkpoint_epoch_2.tar", quiet=True)
    assert_same_run(out, reference_run, **SAME)


def test_time_limit_stops_inside_an_epoch_and_the_resume_continues_exactly(tone_data, tmp_path, reference_run):
    out = tmp_path / "timed"
    # a deadline already past: the run stops after its first step, inside epoch 1
    train(tiny_config(tone_data, out, {"training.epochs": 3, "training.max_minutes": 1e-9}), quiet=True)
    saved = load_checkpoint(out / "checkpoints" / "final_model.tar")["trainer"]
    assert (saved["epoch"], saved["step_in_epoch"]) == (0, 1)
    train(None, resume=out, overrides=[("training.max_minutes", None)], quiet=True)
    assert_same_run(out, reference_run, **SAME)


def test_ctrl_c_saves_a_resumable_checkpoint_and_says_how_to_resume(tone_data, tmp_path, tiny_method,
                                                                   quick_plots, reference_run, capsys):
    out = tmp_path / "interrupted"
    tiny_method.faults.update({9: "sigint"})  # epoch 2, step 3
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tone_data, out, {"training.epochs": 3}), quiet=True)
    printed = capsys.readouterr().out
    assert f"spectrogen train --resume {out}" in printed
    saved = load_checkpoint(out / "checkpoints" / "final_model.tar")["trainer"]
    assert (saved["epoch"], saved["step_in_epoch"]) == (1, 3)
    tiny_method.faults.clear()
    train(None, resume=out, quiet=True)
    assert_same_run(out, reference_run, **SAME)


def test_resuming_a_finished_run_asks_for_more_epochs(reference_run):
    with pytest.raises(UsageError, match="larger --epochs"):
        train(None, resume=reference_run, quiet=True)


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

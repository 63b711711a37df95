"""Resuming: a run stopped at epoch k (or inside it) continues to the same numbers as an uninterrupted run."""

from __future__ import annotations

import pytest

from spectrogen.api import train
from spectrogen.training.checkpoint import load_checkpoint

from common import assert_same_weights, epoch_rows, iteration_rows
from conftest import tiny_config


def assert_same_training(resumed_out, reference_out, keys=("loss_g", "loss_d", "grad_norm_g")):
    # a resumed run repeats the uninterrupted one's operations in the same order: the tight tolerances
    # below hold on any CPU
    resumed, reference = epoch_rows(resumed_out), epoch_rows(reference_out)
    assert [row["epoch"] for row in resumed] == [row["epoch"] for row in reference]  # no duplicate rows
    for mine, theirs in zip(resumed, reference):
        for key in keys:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-6, abs=1e-9), (mine["epoch"], key)
    assert_same_weights(resumed_out, reference_out, rtol=1e-6, atol=1e-7)


@pytest.fixture
def reference_run(tone_data, tmp_path, tiny_method, quick_plots):
    out = tmp_path / "reference"
    train(tiny_config(tone_data, out, {"training.epochs": 3}), quiet=True)
    return out


def test_run_stopped_at_epoch_k_resumes_to_the_same_losses(tone_data, tmp_path, tiny_method, quick_plots,
                                                          reference_run):
    out = tmp_path / "stopped"
    train(tiny_config(tone_data, out, {"training.epochs": 2}), quiet=True)
    assert train(None, resume=out, overrides=[("training.epochs", 3)], quiet=True) == out
    assert_same_training(out, reference_run)
    iterations = iteration_rows(out, 3)
    assert [row["iteration"] for row in iterations] == [2, 4, 6]


def test_resume_from_an_older_checkpoint_drops_the_rows_written_after_it(tone_data, tmp_path, tiny_method,
                                                                        quick_plots, reference_run):
    out = tmp_path / "crashed"
    train(tiny_config(tone_data, out, {"training.epochs": 3}), quiet=True)
    # as if the process died after epoch 3's rows were written but before its checkpoints
    for name in ("checkpoint_epoch_3.tar", "final_model.tar"):
        (out / "checkpoints" / name).unlink()
    train(None, resume=out / "checkpoints" / "checkpoint_epoch_2.tar", quiet=True)
    assert_same_training(out, reference_run)


def test_time_limit_stops_inside_an_epoch_and_the_resume_continues_exactly(tone_data, tmp_path, tiny_method,
                                                                          quick_plots, reference_run):
    out = tmp_path / "timed"
    # a deadline already past: the run stops after its first step, inside epoch 1
    train(tiny_config(tone_data, out, {"training.epochs": 3, "training.max_minutes": 1e-9}), quiet=True)
    saved = load_checkpoint(out / "checkpoints" / "final_model.tar")["trainer"]
    assert (saved["epoch"], saved["step_in_epoch"]) == (0, 1)
    train(None, resume=out, overrides=[("training.max_minutes", None)], quiet=True)
    assert_same_training(out, reference_run)


def test_ctrl_c_saves_a_resumable_checkpoint_and_says_how_to_resume(tone_data, tmp_path, tiny_method,
                                                                   quick_plots, reference_run, capsys):
    out = tmp_path / "interrupted"
    tiny_method.inject({9: "sigint"})  # epoch 2, step 3
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tone_data, out, {"training.epochs": 3}), quiet=True)
    printed = capsys.readouterr().out
    assert f"spectrogen train --resume {out}" in printed
    saved = load_checkpoint(out / "checkpoints" / "final_model.tar")["trainer"]
    assert (saved["epoch"], saved["step_in_epoch"]) == (1, 3)
    tiny_method.inject({})
    train(None, resume=out, quiet=True)
    assert_same_training(out, reference_run)


def test_resuming_a_finished_run_asks_for_more_epochs(tone_data, tmp_path, tiny_method, quick_plots,
                                                     reference_run):
    from spectrogen.errors import UsageError

    with pytest.raises(UsageError, match="larger --epochs"):
        train(None, resume=reference_run, quiet=True)

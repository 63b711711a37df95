"""Injected NaNs are caught once per logging interval and handled as monitor.nan_policy says, and recorded."""

from __future__ import annotations

import math

import pytest
import torch

from spectrogen.errors import TrainingDiverged
from spectrogen.training.api import train
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog

from conftest import tiny_config

LR = 1e-2  # tiny_config's learning rate


def rows(out):
    return CsvLog(out / "epochs_statistics" / "epoch_statistics.csv").rows()


def weights_finite(out):
    networks = load_checkpoint(out / "checkpoints" / "final_model.tar")["method"]["networks"]
    return all(torch.isfinite(t).all() for net in networks.values() for t in net.values())


def run(tone_data, out, policy, **overrides):
    return train(tiny_config(tone_data, out, {"monitor.nan_policy": policy, **overrides}), quiet=True)


def test_stop_policy_ends_the_run_with_a_clear_message(tone_data, tmp_path, tiny_method, quick_plots):
    tiny_method.inject({4: "nan_loss"})
    with pytest.raises(TrainingDiverged) as error:
        run(tone_data, tmp_path / "run", "stop")
    message = str(error.value)
    assert "non-finite loss_g" in message and "epoch 1, iterations 3-4" in message
    assert "--resume" in message and "nan_policy" in message
    iterations = CsvLog(tmp_path / "run" / "single_epochs_statistics" / "epoch_1" / "epoch_1_iterations.csv").rows()
    assert math.isnan(iterations[-1]["loss_g"])  # the bad interval is on record


def test_restore_policy_recovers_and_records_the_event(tone_data, tmp_path, tiny_method, quick_plots, capsys):
    tiny_method.inject({4: "nan_loss"})
    run(tone_data, tmp_path / "run", "restore")
    recorded = rows(tmp_path / "run")
    assert [row["nan_events"] for row in recorded] == [1, 0, 0]
    assert all(math.isfinite(row["loss_g"]) for row in recorded)
    assert [row["lr_generator"] for row in recorded] == [LR, LR, LR]
    assert weights_finite(tmp_path / "run")
    assert "restored the last good state" in capsys.readouterr().out


def test_lower_lr_policy_restores_and_halves_the_learning_rates(tone_data, tmp_path, tiny_method, quick_plots):
    tiny_method.inject({8: "nan_loss"})  # epoch 2, step 2
    run(tone_data, tmp_path / "run", "lower_lr")
    recorded = rows(tmp_path / "run")
    assert [row["nan_events"] for row in recorded] == [0, 1, 0]
    assert [row["lr_generator"] for row in recorded] == [LR, LR / 2, LR / 2]
    assert [row["lr_critic"] for row in recorded] == [LR, LR / 2, LR / 2]
    assert weights_finite(tmp_path / "run")


def test_skip_policy_leaves_a_bad_statistic_out_and_training_unchanged(tone_data, tmp_path, tiny_method,
                                                                       quick_plots):
    run(tone_data, tmp_path / "clean", "skip")
    tiny_method.inject({3: "nan_statistic"})
    run(tone_data, tmp_path / "run", "skip")
    clean, skipped = rows(tmp_path / "clean"), rows(tmp_path / "run")
    assert [row["nan_events"] for row in skipped] == [1, 0, 0]
    # only the report was bad: the weights never were, so nothing was restored
    assert [row["loss_g"] for row in skipped] == [row["loss_g"] for row in clean]
    assert math.isfinite(skipped[0]["loss_d"]) and skipped[0]["loss_d"] != clean[0]["loss_d"]


def test_skip_policy_restores_when_the_weights_themselves_broke(tone_data, tmp_path, tiny_method, quick_plots):
    tiny_method.inject({5: "nan_loss"})
    run(tone_data, tmp_path / "run", "skip")
    assert rows(tmp_path / "run")[0]["nan_events"] == 1
    assert weights_finite(tmp_path / "run")


def test_a_fault_that_keeps_coming_back_stops_the_run(tone_data, tmp_path, tiny_method, quick_plots):
    tiny_method.inject({call: "nan_loss" for call in range(3, 40)})
    with pytest.raises(TrainingDiverged, match="5 logging intervals in a row"):
        run(tone_data, tmp_path / "run", "restore")

"""NaN policies through the Python API (each policy on a real model: tests/reliability/test_numerical_faults.py)."""

from __future__ import annotations

import math

import pytest

from spectrogen.api import train
from spectrogen.errors import TrainingDiverged

from common import epoch_rows
from conftest import tiny_config


def run(tone_data, out, policy, **overrides):
    return train(tiny_config(tone_data, out, {"monitor.nan_policy": policy, **overrides}), quiet=True)


def test_skip_policy_leaves_a_bad_statistic_out_and_training_unchanged(tone_data, tmp_path, tiny_method,
                                                                       quick_plots):
    run(tone_data, tmp_path / "clean", "skip")
    tiny_method.inject({3: "nan_statistic"})
    run(tone_data, tmp_path / "run", "skip")
    clean, skipped = epoch_rows(tmp_path / "clean"), epoch_rows(tmp_path / "run")
    assert [row["nan_events"] for row in skipped] == [1, 0, 0]
    # only the report was bad: the weights never were, so nothing was restored
    assert [row["loss_g"] for row in skipped] == [row["loss_g"] for row in clean]
    assert math.isfinite(skipped[0]["loss_d"]) and skipped[0]["loss_d"] != clean[0]["loss_d"]


def test_a_fault_that_keeps_coming_back_stops_the_run(tone_data, tmp_path, tiny_method, quick_plots):
    tiny_method.inject({call: "nan_loss" for call in range(3, 40)})
    with pytest.raises(TrainingDiverged, match="5 logging intervals in a row"):
        run(tone_data, tmp_path / "run", "restore")

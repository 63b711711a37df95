"""Step statistics on the device, epoch means, and CSV files that keep every finished row."""

import math

import numpy as np
import torch

from spectrogen.training.csv_log import CsvLog
from spectrogen.training.statistics import EpochAccumulator, IntervalBuffer


def test_interval_buffer_returns_what_the_steps_reported():
    buffer = IntervalBuffer()
    steps = [{"loss_g": torch.tensor(float(i)), "loss_d": torch.tensor(2.0 * i)} for i in range(5)]
    for stats in steps:
        assert buffer.accepts(stats)
        buffer.add(stats)
    assert not buffer.accepts({"loss": torch.tensor(1.0)})
    keys, values = buffer.fetch()
    assert keys == ("loss_g", "loss_d")
    assert values.shape == (5, 2)
    np.testing.assert_array_equal(values[:, 0], np.arange(5.0))
    np.testing.assert_array_equal(values[:, 1], 2.0 * np.arange(5.0))
    assert buffer.take()[1] is None  # emptied


def test_epoch_means_leave_out_and_count_non_finite_steps():
    accumulator = EpochAccumulator()
    accumulator.add(["loss", "grad"], np.array([[1.0, 1.0], [np.nan, 2.0], [3.0, np.inf], [5.0, 3.0]]))
    means = accumulator.means()
    assert means["loss"] == (1.0 + 3.0 + 5.0) / 3
    assert means["grad"] == (1.0 + 2.0 + 3.0) / 3
    assert accumulator.steps == 4 and accumulator.nonfinite_steps == 2
    restored = EpochAccumulator()
    restored.load_state_dict(accumulator.state_dict())
    assert restored.means() == means


def test_csv_rows_round_trip_exactly_and_new_columns_widen_the_header(tmp_path):
    log = CsvLog(tmp_path / "stats" / "epoch_statistics.csv")
    value = 1.0 / 3.0
    log.append({"epoch": 1, "loss": value})
    log.append({"epoch": 2, "loss": math.nan, "fid": 12.5})
    rows = log.rows()
    assert log.columns() == ["epoch", "loss", "fid"]
    assert rows[0] == {"epoch": 1, "loss": value, "fid": None}  # lossless float text
    assert rows[1]["epoch"] == 2 and math.isnan(rows[1]["loss"]) and rows[1]["fid"] == 12.5
    log.keep(lambda row: row["epoch"] <= 1)
    assert [row["epoch"] for row in log.rows()] == [1]


def test_a_row_torn_by_a_crash_is_left_out(tmp_path):
    log = CsvLog(tmp_path / "epoch_statistics.csv")
    log.append({"epoch": 1, "loss": 0.5, "seconds": 2.0})
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write("2,0.4")  # the process died inside this write
    assert log.rows() == [{"epoch": 1, "loss": 0.5, "seconds": 2.0}]
    log.keep(lambda row: True)  # a resume rewrites the file without it
    log.append({"epoch": 2, "loss": 0.25, "seconds": 1.0})
    assert [row["epoch"] for row in log.rows()] == [1, 2]

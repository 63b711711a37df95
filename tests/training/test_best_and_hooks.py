"""Which checkpoint is best_model.tar, the checkpoint-metrics hook, and the validation split hook."""

from __future__ import annotations

import pytest

from spectrogen import api
from spectrogen.api import train
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog

from common import epoch_rows
from conftest import TinyMethod, tiny_config


def best_of(out):
    return load_checkpoint(out / "checkpoints" / "best_model.tar")["trainer"]


def test_recorded_metrics_pick_the_best_checkpoint(tone_data, tmp_path, tiny_method, quick_plots, monkeypatch):
    fid = {1: 3.0, 2: 1.0, 3: 2.0}

    def evaluation(trainer, epoch):
        trainer.record_checkpoint_metrics(epoch, {"fid": fid[epoch], "kid": 0.1 * epoch})

    monkeypatch.setattr(api, "build_callback", lambda config: evaluation)
    out = tmp_path / "run"
    train(tiny_config(tone_data, out, {"evaluation.eval_every": 1, "evaluation.best_metric": "fid"}), quiet=True)
    best = best_of(out)
    assert best["epoch"] == 2 and best["best"] == {"criterion": "metric", "key": "fid", "value": 1.0, "epoch": 2}
    rows = CsvLog(out / "epochs_statistics" / "checkpoint_metrics.csv").rows()
    assert rows == [{"epoch": e, "fid": fid[e], "kid": pytest.approx(0.1 * e)} for e in (1, 2, 3)]


def test_a_method_statistic_picks_the_best_checkpoint(tone_data, tmp_path, tiny_method, quick_plots, monkeypatch):
    monkeypatch.setattr(TinyMethod, "best_statistic", "loss_d")
    out = tmp_path / "run"
    train(tiny_config(tone_data, out, {"training.epochs": 4}), quiet=True)
    rows = epoch_rows(out)
    lowest = min(rows, key=lambda row: row["loss_d"])
    best = best_of(out)
    assert best["epoch"] == lowest["epoch"]
    assert best["best"]["criterion"] == "statistic" and best["best"]["value"] == lowest["loss_d"]


def test_without_metrics_best_is_the_latest_checkpoint(tone_data, tmp_path, tiny_method, quick_plots):
    out = tmp_path / "run"
    train(tiny_config(tone_data, out, {"training.epochs": 3, "output.checkpoint_every": 2}), quiet=True)
    best = best_of(out)
    assert best["epoch"] == 3 and best["best"] == {"criterion": "latest", "key": "", "value": None, "epoch": 3}


def test_validation_split_reports_val_columns(tone_data, tmp_path, tiny_method, quick_plots, monkeypatch):
    monkeypatch.setattr(TinyMethod, "uses_validation", True)
    out = tmp_path / "run"
    train(tiny_config(tone_data, out, {"training.epochs": 2, "data.validation_fraction": 0.25}), quiet=True)
    rows = epoch_rows(out)
    assert all(row["val_loss"] is not None and row["val_loss"] > 0 for row in rows)
    # 36 training examples in batches of 8: 4 steps per epoch
    assert load_checkpoint(out / "checkpoints" / "final_model.tar")["trainer"]["global_step"] == 2 * 4

"""Checkpoint files (their atomic writes: tests/reliability): another model's refused, random states, resume
choice; which one is best_model.tar, the checkpoint-metrics hook, and the validation split hook."""

import os
import random

import numpy as np
import pytest
import torch

from spectrogen import api
from spectrogen.api import train
from spectrogen.errors import CheckpointError
from spectrogen.training import checkpoint as ckpt
from spectrogen.training.csv_log import CsvLog

from common import epoch_rows
from training_helpers import TinyMethod, tiny_config


def make_checkpoint(epoch: int = 1, model: str = "dcgan", step_in_epoch: int = 0) -> dict:
    return ckpt.build_checkpoint(
        model=model, config={"model": {"name": model}}, data={"shape": [1, 8, 8], "class_names": []},
        method={"networks": {"generator": {"weight": torch.arange(6.0).reshape(2, 3)}}},
        trainer={"epoch": epoch, "global_step": 10 * epoch, "step_in_epoch": step_in_epoch})


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = ckpt.save_checkpoint(make_checkpoint(1, model="diffusion"), tmp_path / "diffusion.tar")
    with pytest.raises(CheckpointError, match="holds a diffusion model, not specgan"):
        ckpt.load_checkpoint(path, model="specgan")


def test_random_states_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.randn(5), np.random.randn(), random.random(), np.random.normal()  # leave cached gaussian state
    path = ckpt.save_checkpoint(dict(make_checkpoint(), rng=ckpt.rng_state()), tmp_path / "rng.tar")
    expected = (torch.randn(4), np.random.randn(4), [random.random() for _ in range(4)])
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    ckpt.set_rng_state(ckpt.load_checkpoint(path)["rng"])
    again = (torch.randn(4), np.random.randn(4), [random.random() for _ in range(4)])
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]


def test_rolling_buffer_keeps_the_newest_and_resume_prefers_the_most_progress(tmp_path):
    folder = tmp_path / "run" / "checkpoints"
    for epoch in (1, 2, 3, 10):
        ckpt.save_checkpoint(make_checkpoint(epoch), folder / f"checkpoint_epoch_{epoch}.tar")
    deleted = ckpt.prune_rolling(folder, keep=2)
    assert sorted(p.name for p in deleted) == ["checkpoint_epoch_1.tar", "checkpoint_epoch_2.tar"]
    assert [p.name for p in ckpt.rolling_checkpoints(folder)] == ["checkpoint_epoch_3.tar", "checkpoint_epoch_10.tar"]
    assert ckpt.find_resume_checkpoint(tmp_path / "run").name == "checkpoint_epoch_10.tar"
    # an interrupted run's final_model.tar is ahead of its last rolling checkpoint
    ckpt.save_checkpoint(make_checkpoint(10, step_in_epoch=3), folder / "final_model.tar")
    assert ckpt.find_resume_checkpoint(tmp_path / "run").name == "final_model.tar"


def test_publish_copy_survives_deletion_of_its_source(tmp_path):
    source = ckpt.save_checkpoint(make_checkpoint(2), tmp_path / "checkpoint_epoch_2.tar")
    ckpt.publish_copy(source, tmp_path / "best_model.tar")
    os.remove(source)
    assert ckpt.progress_of(ckpt.load_checkpoint(tmp_path / "best_model.tar")) == (2, 0)


def test_resume_from_a_run_without_checkpoints_says_what_to_do(tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="--overwrite"):
        ckpt.find_resume_checkpoint(tmp_path / "run")


def best_of(out):
    return ckpt.load_checkpoint(out / "checkpoints" / "best_model.tar")["trainer"]


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
    out = train(tiny_config(tone_data, tmp_path / "run", {"training.epochs": 4}), quiet=True)
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
    assert ckpt.load_checkpoint(out / "checkpoints" / "final_model.tar")["trainer"]["global_step"] == 2 * 4

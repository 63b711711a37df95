"""The trainer with the real GAN method and the real data set module: resume exactness, dry run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectrogen.cli.main import main
from spectrogen.training.api import train
from spectrogen.training.csv_log import CsvLog

from conftest import tiny_config, tone_features, write_dataset

GAN = {"model.image_size": 32, "model.image_width": None, "model.features_g": 4, "model.features_d": 4,
       "training.learning_rate": None, "output.num_samples": 6}


@pytest.fixture
def tones32(tmp_path):
    features, labels = tone_features(16, shape=(32, 32))
    return write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])


def test_dcgan_stopped_after_epoch_1_resumes_to_the_same_epoch_2(tones32, tmp_path, quick_plots):
    settings = {**GAN, "model.name": "dcgan"}
    train(tiny_config(tones32, tmp_path / "whole", {**settings, "training.epochs": 2}), quiet=True)
    train(tiny_config(tones32, tmp_path / "parts", {**settings, "training.epochs": 1}), quiet=True)
    train(None, resume=tmp_path / "parts", overrides=[("training.epochs", 2)], quiet=True)
    whole = CsvLog(tmp_path / "whole" / "epochs_statistics" / "epoch_statistics.csv").rows()
    parts = CsvLog(tmp_path / "parts" / "epochs_statistics" / "epoch_statistics.csv").rows()
    assert [row["epoch"] for row in parts] == [1, 2]
    # the resumed epoch repeats the uninterrupted one's operations in the same order: equal to round-off
    for key in ("loss_g", "loss_d", "d_real", "d_fake", "grad_norm_g", "grad_norm_d"):
        assert parts[1][key] == pytest.approx(whole[1][key], rel=1e-6), key
    np.testing.assert_allclose(np.load(tmp_path / "parts" / "samples" / "epoch_002.npy"),
                               np.load(tmp_path / "whole" / "samples" / "epoch_002.npy"), rtol=1e-5, atol=1e-6)


def test_cgan_samples_use_fixed_classes_and_dry_run_counts_parameters(tones32, tmp_path, quick_plots, capsys):
    out = tmp_path / "cgan"
    config = tiny_config(tones32, out, {**GAN, "model.name": "cgan", "training.epochs": 1,
                                        "training.critic_steps": 1})
    path = tmp_path / "cgan.json"
    path.write_text(json.dumps(config.model_dump(mode="json")))
    assert main(["train", "--config", str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "generator" in printed and "discriminator" in printed and "total" in printed
    assert not out.exists()
    train(config, quiet=True)
    samples = np.load(out / "samples" / "epoch_001.npy")
    assert samples.shape == (6, 1, 32, 32) and np.abs(samples).max() <= 1.0

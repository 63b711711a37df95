"""The trainer with the real conditional GAN: its samples, and a dry run from a configuration file."""

from __future__ import annotations

import json

import numpy as np

from spectrogen.api import train
from spectrogen.cli.main import main

from conftest import tiny_config, tone_features, write_dataset


def test_cgan_samples_in_range_and_a_dry_run_counts_parameters_writing_nothing(tmp_path, quick_plots, capsys):
    features, labels = tone_features(16, shape=(32, 32))
    data = write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])
    out = tmp_path / "cgan"
    config = tiny_config(data, out, {"model.name": "cgan", "model.image_size": 32, "model.image_width": None,
                                     "model.features_g": 4, "model.features_d": 4, "training.learning_rate": None,
                                     "output.num_samples": 6, "training.epochs": 1, "training.critic_steps": 1})
    path = tmp_path / "cgan.json"
    path.write_text(json.dumps(config.model_dump(mode="json")))
    assert main(["train", "--config", str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "generator" in printed and "discriminator" in printed and "total" in printed
    assert not out.exists()
    train(config, quiet=True)
    samples = np.load(out / "samples" / "epoch_001.npy")
    assert samples.shape == (6, 1, 32, 32) and np.abs(samples).max() <= 1.0

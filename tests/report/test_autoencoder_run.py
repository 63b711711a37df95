"""A tiny autoencoder run through the one training loop: validation columns, figures, audio, metrics."""

import json
from types import SimpleNamespace

import numpy as np
import soundfile
import torch

from spectrogen.config import build_config
from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.data.info import DataInfo
from spectrogen.models.registry import build_method
from spectrogen.report import autoencoder_figures
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog
from spectrogen.spectral.mapping import FeatureMapping


def test_epoch_rows_hold_the_validation_metrics(autoencoder_run):
    rows = CsvLog(autoencoder_run["run"] / "epochs_statistics" / "epoch_statistics.csv").rows()
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        for key in ("loss", "mse", "l1", "kl", "grad_norm", "val_loss", "val_mse", "val_mae",
                    "val_cosine_similarity", "val_spectral_convergence"):
            assert np.isfinite(float(row[key])), key
        assert -1.0 <= float(row["val_cosine_similarity"]) <= 1.0
        assert float(row["val_spectral_convergence"]) >= 0.0
    # the cosine schedule over 2 epochs: the full rate, then half of it
    assert float(rows[1]["lr_autoencoder"]) == np.float64(float(rows[0]["lr_autoencoder"]) / 2)


def test_run_writes_figures_and_audio_pairs_of_held_out_examples(autoencoder_run):
    run = autoencoder_run["run"]
    for name in ("training_curves.png", "spectrogram_comparison.png"):
        with open(run / "plots" / name, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    samples = 32 * 64  # 32 frames of hop 64
    for k in range(2):
        original, rate = soundfile.read(run / "reconstructions" / f"audio_original_{k}.wav")
        rebuilt, rate_rebuilt = soundfile.read(run / "reconstructions" / f"audio_reconstructed_{k}.wav")
        assert rate == rate_rebuilt == 8000
        assert original.shape == rebuilt.shape == (samples,)
        assert max(np.abs(original).max(), np.abs(rebuilt).max()) > 0.5  # the pair is peak-scaled together
    metrics = json.loads((run / "reconstructions" / "metrics.json").read_text())
    assert {"mse", "mae", "cosine_similarity", "spectral_convergence", "si_sdr_db"} <= set(metrics["metrics"])
    assert set(metrics["skipped"]) | set(metrics["metrics"]) >= {"pesq", "stoi"}


def test_speech_scores_join_the_epoch_row_where_a_package_is_installed(autoencoder_run, monkeypatch):
    monkeypatch.setattr(autoencoder_figures, "speech_packages_available", lambda: {"pesq": False, "pystoi": True})
    monkeypatch.setattr(autoencoder_figures, "stoi_score", lambda reference, estimate, rate: float(rate))
    config = build_config(load_checkpoint(autoencoder_run["checkpoint"])["config"])
    method = build_method(config, DataInfo((1, 16, 32)), "cpu")
    method.mapping = FeatureMapping.of_dataset(SpectrogramDataset.open(autoencoder_run["data"]),
                                                  config.data.normalization, (16, 32))
    trainer = SimpleNamespace(method=method, config=method.config, epoch_row={})
    autoencoder_figures.speech_scores(trainer, 1)
    assert trainer.epoch_row == {}  # no held-out examples seen yet
    method.examples, method.examples_are_validation = torch.zeros(2, 1, 16, 32), True
    autoencoder_figures.speech_scores(trainer, 1)
    assert trainer.epoch_row == {"val_stoi": 8000.0}

"""A tiny autoencoder run through the one training loop: validation columns, figures, audio, metrics."""

from __future__ import annotations

import csv
import json

import numpy as np
import soundfile
import torch

from spectrogen.models.autoencoder.feature_space import FeatureSpace
from spectrogen.spectral.normalization import Normalizer


def test_epoch_rows_hold_the_validation_metrics(tiny_run):
    with open(tiny_run["run"] / "epochs_statistics" / "epoch_statistics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    for row in rows:
        for key in ("loss", "mse", "l1", "kl", "grad_norm", "val_loss", "val_mse", "val_mae",
                    "val_cosine_similarity", "val_spectral_convergence"):
            assert np.isfinite(float(row[key])), key
        assert -1.0 <= float(row["val_cosine_similarity"]) <= 1.0
        assert float(row["val_spectral_convergence"]) >= 0.0
    # the cosine schedule over 2 epochs: the full rate, then half of it
    assert float(rows[1]["lr_autoencoder"]) == np.float64(float(rows[0]["lr_autoencoder"]) / 2)


def test_run_writes_figures_and_audio_pairs_of_held_out_examples(tiny_run):
    run = tiny_run["run"]
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


def test_feature_space_round_trips_data_set_features_through_model_space(tiny_run):
    from spectrogen.data.dataset import SpectrogramDataset

    features = torch.from_numpy(np.array(SpectrogramDataset.open(tiny_run["data"]).features[:3]))  # (3, F, T)
    for normalization in ("minmax", "per_frequency"):
        space = FeatureSpace.of_dataset(tiny_run["data"], normalization, torch.device("cpu"))
        x = space.to_model(features, space.source_shape)
        assert x.shape == (3, 1, *space.source_shape)
        kept = x[:, 0].abs() < 0.999  # per_frequency clips values beyond 3 std to [-1, 1]
        assert kept.any()
        torch.testing.assert_close(space.features(x)[kept], features[kept], atol=1e-4, rtol=1e-4)
    wider = space.to_model(features, (space.source_shape[0], 2 * space.source_shape[1]))
    assert wider.shape == (3, 1, space.source_shape[0], 2 * space.source_shape[1])
    assert space.features(wider).shape == features.shape  # resized back before un-normalising


def test_magnitudes_invert_the_log_of_the_representation():
    from spectrogen.spectral.representation import Representation

    representation = Representation.preset("autoencoder", n_mels=8, frames=4)
    space = FeatureSpace(Normalizer("none"), representation, (8, 4))
    magnitudes = torch.rand(2, 8, 4, generator=torch.Generator().manual_seed(0))
    x = torch.log1p(magnitudes).unsqueeze(1)  # the preset compresses with log(1 + M)
    torch.testing.assert_close(space.magnitudes(x), magnitudes, atol=1e-6, rtol=1e-5)

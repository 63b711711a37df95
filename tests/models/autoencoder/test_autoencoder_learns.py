"""Proof that the autoencoder learns: held-out error far below that of predicting the mean spectrogram."""

from __future__ import annotations

import torch

from spectrogen.models.registry import build_method
from spectrogen.data.info import Batch, DataInfo

FRACTION_OF_MEAN_PREDICTOR = 0.2


def test_held_out_error_falls_below_a_fraction_of_the_mean_predictors(make_tones, make_config):
    data = torch.from_numpy(make_tones(64, bins=32, frames=64, seed=0))  # (64, 1, 32, 64)
    train, held_out = data[:48], data[48:]
    epochs, batch_size = 200, 24
    config = make_config({"model.latent_dim": 16, "model.autoencoder.hidden_channels": 32,
                          "training.learning_rate": 3e-3, "training.epochs": epochs,
                          "training.batch_size": batch_size})
    torch.manual_seed(0)
    method = build_method(config, DataInfo((1, 32, 64)), "cpu")
    order = torch.Generator().manual_seed(0)
    for epoch in range(1, epochs + 1):
        for indices in torch.randperm(len(train), generator=order).split(batch_size):
            method.train_step(Batch(train[indices]))
        method.end_epoch(epoch, {})

    mean_predictor_error = (held_out - train.mean(dim=0)).square().mean().item()
    error = (method.reconstruct(held_out) - held_out).square().mean().item()
    assert error < FRACTION_OF_MEAN_PREDICTOR * mean_predictor_error, (
        f"held-out MSE {error:.4f} is {error / mean_predictor_error:.2f} of the mean predictor's "
        f"{mean_predictor_error:.4f}")

"""The autoencoder training method: its loss, optimiser, sampling, validation, and that it learns (shared contract:
test_method_contract.py; family defaults: tests/config)."""

from typing import Any

import numpy as np
import pytest
import torch

from spectrogen.config import build_config
from spectrogen.config.loader import apply_overrides
from spectrogen.models.autoencoder.method import AutoencoderMethod
from spectrogen.models.registry import build_method
from spectrogen.data.info import Batch, DataInfo

SHAPE = (1, 16, 32)
FRACTION_OF_MEAN_PREDICTOR = 0.2


def tone_spectrograms(count: int, bins: int = 32, frames: int = 64, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """Returns log-magnitude-like spectrograms (count, 1, bins, frames) in [-1, 1]: one of four pitches, flat
    or gliding, three harmonics, a random level."""
    rng = np.random.default_rng(seed)
    rows = np.arange(bins)[:, None]
    times = np.arange(frames)[None, :]
    out = np.empty((count, 1, bins, frames), dtype=np.float32)
    for i in range(count):
        pitch = rng.choice([3.0, 5.0, 7.0, 9.0]) + rng.choice([-0.04, 0.0, 0.04]) * times  # (1, T) rows
        magnitude = sum(np.exp(-0.5 * ((rows - h * pitch) / 0.8) ** 2) / h for h in (1, 2, 3))
        magnitude = magnitude * rng.uniform(0.5, 1.5)
        out[i, 0] = np.log(magnitude + 1e-2) + noise * rng.standard_normal((bins, frames))
    low, high = out.min(), out.max()
    return (2.0 * (out - low) / (high - low) - 1.0).astype(np.float32)


def _method(overrides: dict[str, Any] | None = None, seed: int = 0, shape=SHAPE) -> AutoencoderMethod:
    """Returns a small autoencoder (hidden 16, 2 levels, latent 8) with `overrides` on the CPU, seeded."""
    raw = {"model": {"name": "autoencoder", "latent_dim": 8,
                     "autoencoder": {"hidden_channels": 16, "blocks": 2, "dropout": 0.0}},
           "training": {"epochs": 4, "batch_size": 8, "device": "cpu", "seed": 0}}
    torch.manual_seed(seed)
    return build_method(build_config(apply_overrides(raw, (overrides or {}).items())), DataInfo(shape), "cpu")


def _batches(count: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(tone_spectrograms(count, bins=SHAPE[1], frames=SHAPE[2], seed=seed))


def test_registered_under_its_name_and_honours_latent_dim():
    method = _method({"model.latent_dim": 12})
    assert isinstance(method, AutoencoderMethod)
    assert method.network.latent_dim == 12
    assert method.encode(torch.zeros(2, *SHAPE)).shape == (2, 12)
    optimizer = method.optimizers["autoencoder"]
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.param_groups[0]["weight_decay"] == pytest.approx(1e-4)


def test_the_loss_is_the_weighted_sum_of_its_terms():
    method = _method({"model.autoencoder.variational": True, "model.autoencoder.mse_weight": 2.0,
                                   "model.autoencoder.l1_weight": 0.5, "model.autoencoder.kl_weight": 0.1})
    statistics = method.train_step(Batch(_batches(8)))
    combined = 2.0 * statistics["mse"] + 0.5 * statistics["l1"] + 0.1 * statistics["kl"]
    torch.testing.assert_close(statistics["loss"], combined)
    assert statistics["kl"].item() > 0.0
    plain = _method().train_step(Batch(_batches(8)))  # no KL without the variational
    assert plain["kl"].item() == 0.0
    torch.testing.assert_close(plain["loss"], plain["mse"] + plain["l1"])


def test_sample_decodes_the_gaussian_fitted_to_the_epochs_latents():
    method = _method()
    data = _batches(16)
    codes = []
    for half in data.split(8):
        codes.append(method.encode(half))  # without dropout, the codes the step is about to see
        method.train_step(Batch(half))
    method.end_epoch(1, {"loss": 1.0})
    codes = torch.cat(codes)  # (16, D)
    torch.testing.assert_close(method.network.latent_mean, codes.mean(0), atol=1e-5, rtol=1e-5)
    factor = method.network.latent_scale_tril
    torch.testing.assert_close(factor @ factor.T, torch.cov(codes.T), atol=1e-4, rtol=1e-3)
    samples = method.sample(5, generator=torch.Generator().manual_seed(3))
    assert samples.shape == (5, *SHAPE)
    torch.testing.assert_close(method.sample(5, generator=torch.Generator().manual_seed(3)), samples)


def test_validation_step_measures_the_eval_reconstruction():
    method = _method({"model.autoencoder.dropout": 0.5})
    x = _batches(8)
    method.train(False)
    with torch.no_grad():
        statistics = method.validation_step(Batch(x))
    reconstruction = method.reconstruct(x)
    torch.testing.assert_close(statistics["mse"], (reconstruction - x).square().mean())
    torch.testing.assert_close(statistics["mae"], (reconstruction - x).abs().mean())
    cosine = torch.nn.functional.cosine_similarity(reconstruction.flatten(1), x.flatten(1), dim=1).mean()
    torch.testing.assert_close(statistics["cosine_similarity"], cosine)
    assert all(value.dim() == 0 for value in statistics.values())


def test_held_out_error_falls_below_a_fraction_of_the_mean_predictors():
    data = torch.from_numpy(tone_spectrograms(64, bins=32, frames=64, seed=0))  # (64, 1, 32, 64)
    train, held_out = data[:48], data[48:]
    epochs, batch_size = 200, 24
    method = _method({"model.latent_dim": 16, "model.autoencoder.hidden_channels": 32,
                      "training.learning_rate": 3e-3, "training.epochs": epochs, "training.batch_size": batch_size},
                     shape=(1, 32, 64))
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

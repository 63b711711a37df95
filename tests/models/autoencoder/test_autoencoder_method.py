"""The autoencoder training method: step statistics, optimiser and schedule, sampling, validation, resume."""

from __future__ import annotations

import math

import pytest
import torch

from spectrogen.config import load_config
from spectrogen.models.autoencoder.method import AutoencoderMethod
from spectrogen.models.registry import build_method
from spectrogen.data.info import Batch, DataInfo

from common import saved_and_loaded

SHAPE = (1, 16, 32)


def _method(make_config, overrides=None, seed: int = 0) -> AutoencoderMethod:
    torch.manual_seed(seed)
    return build_method(make_config(overrides), DataInfo(SHAPE), "cpu")


def _batches(make_tones, count: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(make_tones(count, bins=SHAPE[1], frames=SHAPE[2], seed=seed))


def test_registered_under_its_name_and_honours_latent_dim(make_config):
    method = _method(make_config, {"model.latent_dim": 12})
    assert isinstance(method, AutoencoderMethod)
    assert method.network.latent_dim == 12
    assert method.encode(torch.zeros(2, *SHAPE)).shape == (2, 12)


def test_family_defaults_adamw_with_weight_decay_and_cosine_schedule():
    config = load_config("test", [("model.name", "autoencoder")])
    assert (config.training.learning_rate, config.training.weight_decay, config.training.grad_clip) == (1e-3, 1e-4, 1.0)
    assert config.training.lr_schedule == "cosine"


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_learning_rate_follows_a_cosine_over_the_epochs(make_config):
    epochs = 6
    method = _method(make_config, {"training.epochs": epochs, "training.learning_rate": 0.01})
    optimizer = method.optimizers["autoencoder"]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(1e-4)
    rates = []
    for epoch in range(epochs):
        rates.append(method.learning_rates()["lr_autoencoder"])
        method.end_epoch(epoch + 1, {"loss": 1.0})
    expected = [0.005 * (1 + math.cos(math.pi * k / epochs)) for k in range(epochs)]
    assert rates == pytest.approx(expected, rel=1e-6)


def test_train_step_returns_0d_statistics_whose_loss_is_the_weighted_sum(make_config, make_tones):
    method = _method(make_config, {"model.autoencoder.variational": True, "model.autoencoder.mse_weight": 2.0,
                                   "model.autoencoder.l1_weight": 0.5, "model.autoencoder.kl_weight": 0.1})
    statistics = method.train_step(Batch(_batches(make_tones, 8)))
    assert set(statistics) == {"loss", "mse", "l1", "kl", "grad_norm"}
    assert all(value.dim() == 0 and not value.requires_grad for value in statistics.values())
    combined = 2.0 * statistics["mse"] + 0.5 * statistics["l1"] + 0.1 * statistics["kl"]
    torch.testing.assert_close(statistics["loss"], combined)
    assert statistics["kl"].item() > 0.0
    plain = _method(make_config).train_step(Batch(_batches(make_tones, 8)))  # no KL without the variational
    assert plain["kl"].item() == 0.0
    torch.testing.assert_close(plain["loss"], plain["mse"] + plain["l1"])


def test_gradients_are_clipped_to_training_grad_clip(make_config, make_tones):
    clip = 1e-3
    method = _method(make_config, {"training.grad_clip": clip})
    statistics = method.train_step(Batch(_batches(make_tones, 8)))
    assert statistics["grad_norm"].item() > clip  # the norm reported is the one before clipping
    applied = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in method.network.parameters()
                                                    if p.grad is not None]))
    assert applied.item() <= clip * (1 + 1e-4)


def test_sample_decodes_the_gaussian_fitted_to_the_epochs_latents(make_config, make_tones):
    method = _method(make_config)
    data = _batches(make_tones, 16)
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


def test_validation_step_measures_the_eval_reconstruction(make_config, make_tones):
    method = _method(make_config, {"model.autoencoder.dropout": 0.5})
    x = _batches(make_tones, 8)
    method.train(False)
    with torch.no_grad():
        statistics = method.validation_step(Batch(x))
    reconstruction = method.reconstruct(x)
    torch.testing.assert_close(statistics["mse"], (reconstruction - x).square().mean())
    torch.testing.assert_close(statistics["mae"], (reconstruction - x).abs().mean())
    cosine = torch.nn.functional.cosine_similarity(reconstruction.flatten(1), x.flatten(1), dim=1).mean()
    torch.testing.assert_close(statistics["cosine_similarity"], cosine)
    assert all(value.dim() == 0 for value in statistics.values())


def test_resumed_training_reproduces_the_uninterrupted_losses(make_config, make_tones):
    data = _batches(make_tones, 24)
    batches = list(data.split(8))
    overrides = {"model.autoencoder.dropout": 0.2, "model.autoencoder.variational": True}

    def steps(method, chosen, seed):
        torch.manual_seed(seed)  # dropout and reparameterisation draw from the global stream
        return [method.train_step(Batch(b))["loss"].item() for b in chosen]

    straight = _method(make_config, overrides)
    steps(straight, batches[:2], seed=1)
    straight.end_epoch(1, {"loss": 1.0})
    saved = saved_and_loaded(straight.state_dict())  # as a checkpoint holds it, not live references
    expected = steps(straight, batches, seed=2)

    resumed = _method(make_config, overrides, seed=99)  # other initial weights, all replaced by the state
    resumed.load_state_dict(saved)
    # the same state and draws through the same operations as the uninterrupted steps: equal to round-off
    assert steps(resumed, batches, seed=2) == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(resumed.network.latent_scale_tril, straight.network.latent_scale_tril)

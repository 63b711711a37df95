"""The autoencoder training method: its loss, optimiser defaults, sampling and validation (the contract every
family keeps: tests/models/test_method_contract.py)."""

from __future__ import annotations

import pytest
import torch

from spectrogen.config import load_config
from spectrogen.models.autoencoder.method import AutoencoderMethod
from spectrogen.models.registry import build_method
from spectrogen.data.info import Batch, DataInfo

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
    optimizer = method.optimizers["autoencoder"]
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.param_groups[0]["weight_decay"] == pytest.approx(1e-4)


def test_family_defaults_adamw_with_weight_decay_and_cosine_schedule():
    config = load_config("test", [("model.name", "autoencoder")])
    assert (config.training.learning_rate, config.training.weight_decay, config.training.grad_clip) == (1e-3, 1e-4, 1.0)
    assert config.training.lr_schedule == "cosine"


def test_the_loss_is_the_weighted_sum_of_its_terms(make_config, make_tones):
    method = _method(make_config, {"model.autoencoder.variational": True, "model.autoencoder.mse_weight": 2.0,
                                   "model.autoencoder.l1_weight": 0.5, "model.autoencoder.kl_weight": 0.1})
    statistics = method.train_step(Batch(_batches(make_tones, 8)))
    combined = 2.0 * statistics["mse"] + 0.5 * statistics["l1"] + 0.1 * statistics["kl"]
    torch.testing.assert_close(statistics["loss"], combined)
    assert statistics["kl"].item() > 0.0
    plain = _method(make_config).train_step(Batch(_batches(make_tones, 8)))  # no KL without the variational
    assert plain["kl"].item() == 0.0
    torch.testing.assert_close(plain["loss"], plain["mse"] + plain["l1"])


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

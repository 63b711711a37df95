"""Tiny checkpoints written the way training writes them (docs/architecture.md), for sampling tests."""

from typing import Optional

import pytest
import torch

from common import TINY_DIFFUSION, cpu_method, save_as_trained


@pytest.fixture
def gan_checkpoint(tmp_path):
    """Returns a factory: (model name, normalizer, representation, size, classes, ema, other model settings) -> (the
    path of a checkpoint saved as training saves one, its very small method with weights randomised (seeded):
    outputs not ~0)."""

    def make(model: str = "specgan", *, normalizer: Optional[dict] = None, representation: Optional[dict] = None,
             size: int = 32, classes: tuple[str, ...] = (), ema: bool = False, **model_extra):
        diffusion = {**TINY_DIFFUSION, **model_extra.pop("diffusion", {})}
        method = cpu_method(model, (1, size, size), classes, training={"ema_decay": 0.9 if ema else None},
                            image_size=size, features_g=4, features_d=4, latent_dim=8, diffusion=diffusion,
                            autoencoder={"hidden_channels": 8, "blocks": 1}, **model_extra)
        with torch.no_grad():
            for network in method.networks.values():
                for parameter in network.parameters():
                    parameter.add_(0.2 * torch.randn_like(parameter))
        return save_as_trained(method, tmp_path / "model.tar", normalizer, representation), method

    return make

"""Tiny checkpoints written the way training writes them (docs/architecture.md), for sampling tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
import torch

from spectrogen.config import build_config, config_to_dict
from spectrogen.models.registry import build_method
from spectrogen.training.checkpoint import build_checkpoint, save_checkpoint
from spectrogen.data.info import DataInfo

TINY_DIFFUSION = {"base_channels": 8, "channel_multipliers": [1, 2], "timesteps": 20, "sampling_steps": 4,
                  "attention": False}
TINY_AUTOENCODER = {"hidden_channels": 8, "blocks": 1}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (`one_thread` of tests/conftest.py)."""


def tiny_method(model: str, size: int = 32, classes: tuple[str, ...] = (), seed: int = 0, *, ema: bool = False,
                **model_extra):
    """Returns a very small `model` for `size` x `size` examples, its weights randomised (seeded): outputs not ~0."""
    torch.manual_seed(seed)
    config = build_config({"model": {"name": model, "image_size": size, "features_g": 4, "features_d": 4,
                                     "latent_dim": 8, "diffusion": TINY_DIFFUSION, "autoencoder": TINY_AUTOENCODER,
                                     **model_extra},
                           "training": {"ema_decay": 0.9 if ema else None}})
    method = build_method(config, DataInfo((1, size, size), list(classes)), "cpu")
    with torch.no_grad():
        for network in method.networks.values():
            for parameter in network.parameters():
                parameter.add_(0.2 * torch.randn_like(parameter))
    return method


def write_checkpoint(path: Path, method, *, normalizer: Optional[dict] = None,
                     representation: Optional[dict] = None) -> Path:
    """Returns `path` after saving `method` there as a training checkpoint would."""
    data = {"shape": list(method.info.shape), "class_names": list(method.info.class_names),
            "normalizer": normalizer, "representation": representation}
    checkpoint = build_checkpoint(model=method.name, config=config_to_dict(method.config), data=data,
                                  method=method.state_dict(),
                                  trainer={"epoch": 1, "global_step": 1, "rng": {}, "best": {}})
    return save_checkpoint(checkpoint, path)


@pytest.fixture
def gan_checkpoint(tmp_path):
    """Returns a factory: (model name, classes, normalizer, representation) -> (checkpoint path, its method)."""

    def make(model: str = "specgan", *, classes: tuple[str, ...] = (), normalizer=None, representation=None):
        method = tiny_method(model, classes=classes)
        path = write_checkpoint(tmp_path / "model.tar", method, normalizer=normalizer, representation=representation)
        return path, method

    return make

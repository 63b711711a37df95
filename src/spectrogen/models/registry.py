"""The registry of model families (name -> TrainingMethod subclass)."""

from __future__ import annotations

import importlib

import torch

from spectrogen.config.schema import ExperimentConfig
from spectrogen.registry import Registry
from spectrogen.data.info import DataInfo
from spectrogen.models.method import TrainingMethod

MODELS: Registry[type[TrainingMethod]] = Registry("model")

# the modules that register families, imported on first use so that `import spectrogen` stays light
_FAMILY_MODULES = {
    "dcgan": "spectrogen.models.gan_method",
    "specgan": "spectrogen.models.gan_method",
    "cgan": "spectrogen.models.gan_method",
    "diffusion": "spectrogen.models.diffusion.method",
    "autoencoder": "spectrogen.models.autoencoder.method",
}


def method_class(name: str) -> type[TrainingMethod]:
    """Returns the TrainingMethod subclass registered as `name`, importing its module on first use."""
    if name not in MODELS and name in _FAMILY_MODULES:
        importlib.import_module(_FAMILY_MODULES[name])
    return MODELS.get(name)


def build_method(config: ExperimentConfig, info: DataInfo, device: torch.device | str = "cpu") -> TrainingMethod:
    """Returns the model family of `config.model.name`, built for data described by `info`."""
    return method_class(config.model.name)(config, info, torch.device(device))


def build_sampler(config: ExperimentConfig, info: DataInfo, device: torch.device | str = "cpu") -> TrainingMethod:
    """Returns the model family of `config.model.name` with only its `sampling_networks` (no critic or optimizer)."""
    return method_class(config.model.name)(config, info, torch.device(device), sampling_only=True)

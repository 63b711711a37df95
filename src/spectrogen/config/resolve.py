"""The model families' defaults, and the record of which step set what (`ExperimentConfig.resolved_from`).

A step is a named set of dotted keys and values, like `--set`; presets, the demo's settings and the choices
made from the data set (`spectrogen.training.small_data`) are applied and recorded by `spectrogen.config.loader`.
"""

from __future__ import annotations

from typing import Any, Iterable

from spectrogen.config.schema import ExperimentConfig

# Per family: the settings of its reference (DCGAN: Radford et al. 2016; SpecGAN: Donahue et al. 2019;
# diffusion and autoencoder: the reference DDPM and mel autoencoder recipes), filling what was left as None.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "dcgan": {"training.loss": "bce", "training.learning_rate": 2e-4, "training.beta1": 0.5, "training.beta2": 0.999,
              "training.critic_steps": 1, "training.weight_decay": 0.0, "model.batchnorm": True,
              "model.latent_distribution": "normal", "model.upsample": "nearest"},
    "specgan": {"training.loss": "wgan-gp", "training.learning_rate": 1e-4, "training.beta1": 0.5,
                "training.beta2": 0.9, "training.critic_steps": 5, "training.weight_decay": 0.0,
                "model.batchnorm": False, "model.latent_distribution": "uniform", "model.upsample": "nearest"},
    "diffusion": {"training.learning_rate": 2e-4, "training.beta1": 0.9, "training.beta2": 0.999,
                  "training.critic_steps": 1, "training.weight_decay": 0.0, "training.ema_decay": 0.995,
                  "training.grad_clip": 1.0, "model.batchnorm": False, "model.latent_distribution": "normal"},
    "autoencoder": {"training.learning_rate": 1e-3, "training.beta1": 0.9, "training.beta2": 0.999,
                    "training.critic_steps": 1, "training.weight_decay": 1e-4, "training.grad_clip": 1.0,
                    "model.batchnorm": False, "model.latent_distribution": "normal"},
}


def record(steps: dict[str, list[str]], step: str, keys: Iterable[str]) -> None:
    """Records in `steps` (a configuration's resolved_from) that `step` set `keys`; a step named again moves last."""
    keys = list(keys)
    if keys:
        steps[step] = list(dict.fromkeys([*steps.pop(step, []), *keys]))


def value_at(config: Any, key: str) -> Any:
    """Returns the value of the dotted `key` ("training.loss", "model.conditional.base") in `config`."""
    for name in key.split("."):
        config = getattr(config, name)
    return config


def resolve(config: ExperimentConfig) -> ExperimentConfig:
    """Returns a copy of `config` with every None default replaced by its family's value (step `family NAME`)."""
    config = config.model_copy(deep=True)
    model = config.model
    family = model.conditional.base if model.name == "cgan" else model.name  # cgan takes its base's defaults
    filled = {key: value for key, value in FAMILY_DEFAULTS[family].items() if value_at(config, key) is None}
    if config.training.learning_rate_d is None:
        filled["training.learning_rate_d"] = filled.get("training.learning_rate", config.training.learning_rate)
    if config.model.name == "autoencoder" and "lr_schedule" not in config.training.model_fields_set:
        # the autoencoder anneals on a cosine by default; a schedule the user wrote down wins
        filled["training.lr_schedule"] = "cosine"
    for key, value in filled.items():
        section, _, name = key.rpartition(".")
        setattr(value_at(config, section), name, value)
    record(config.resolved_from, f"family {family}", filled)
    return config

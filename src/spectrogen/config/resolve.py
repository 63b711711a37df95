"""Fill the fields left as None with the defaults of the chosen model family."""

from __future__ import annotations

from spectrogen.config.schema import ExperimentConfig

# Per family: the settings of its reference (DCGAN: Radford et al. 2016; SpecGAN: Donahue et al. 2019;
# diffusion and autoencoder: the reference DDPM and mel autoencoder recipes).
FAMILY_DEFAULTS: dict[str, dict[str, dict[str, object]]] = {
    "dcgan": {
        "training": {"loss": "bce", "learning_rate": 2e-4, "beta1": 0.5, "beta2": 0.999,
                     "critic_steps": 1, "weight_decay": 0.0},
        "model": {"batchnorm": True, "latent_distribution": "normal", "upsample": "nearest"},
    },
    "specgan": {
        "training": {"loss": "wgan-gp", "learning_rate": 1e-4, "beta1": 0.5, "beta2": 0.9,
                     "critic_steps": 5, "weight_decay": 0.0},
        "model": {"batchnorm": False, "latent_distribution": "uniform", "upsample": "nearest"},
    },
    "diffusion": {
        "training": {"loss": None, "learning_rate": 2e-4, "beta1": 0.9, "beta2": 0.999,
                     "critic_steps": 1, "weight_decay": 0.0, "ema_decay": 0.995, "grad_clip": 1.0},
        "model": {"batchnorm": False, "latent_distribution": "normal"},
    },
    "autoencoder": {
        "training": {"loss": None, "learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999,
                     "critic_steps": 1, "weight_decay": 1e-4, "grad_clip": 1.0},
        "model": {"batchnorm": False, "latent_distribution": "normal"},
    },
}


def family_of(config: ExperimentConfig) -> str:
    """Returns the family whose defaults apply: cgan borrows those of its base architecture."""
    name = config.model.name
    return config.model.conditional.base if name == "cgan" else name


def resolve(config: ExperimentConfig) -> ExperimentConfig:
    """Returns a copy of `config` with every None default replaced by its family's value."""
    config = config.model_copy(deep=True)
    defaults = FAMILY_DEFAULTS[family_of(config)]
    for section_name, values in defaults.items():
        section = getattr(config, section_name)
        for key, value in values.items():
            if getattr(section, key) is None and value is not None:
                setattr(section, key, value)
    if config.training.learning_rate_d is None:
        config.training.learning_rate_d = config.training.learning_rate
    if config.model.name == "autoencoder" and "lr_schedule" not in config.training.model_fields_set:
        # the autoencoder anneals on a cosine by default; a schedule the user wrote down wins
        config.training.lr_schedule = "cosine"
    return config

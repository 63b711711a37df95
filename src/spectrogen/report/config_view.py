"""Which configuration fields apply to a run's model: the report shows those and folds the rest away.

A resolved configuration holds every section, so a SpecGAN run also lists the diffusion model's
noise schedule and the autoencoder's loss weights. `applies(key, config)` says whether a dotted key
changes what this run's model does.
"""

from __future__ import annotations

from typing import Any

GANS = ("dcgan", "specgan", "cgan")
# settings that only the adversarial families read
GAN_ONLY = ("model.latent_dim", "model.latent_distribution", "model.batchnorm", "training.loss",
            "training.critic_steps", "training.label_smoothing", "training.learning_rate_d",
            "training.diffaugment", "training.gp_lambda", "model.features_g", "model.features_d")
# what each family reads beyond the shared settings (model.<family>.*)
FAMILY_SECTIONS = {"diffusion": "model.diffusion.", "autoencoder": "model.autoencoder.", "cgan": "model.conditional."}
CONDITIONAL_ONLY = ("model.num_classes",)
VALIDATING = ("autoencoder",)  # the families that hold out data.validation_fraction of the examples


def applies(key: str, config: dict[str, Any]) -> bool:
    """Returns whether the dotted configuration `key` applies to the model `config` describes."""
    model = config.get("model", {}).get("name", "")
    for family, prefix in FAMILY_SECTIONS.items():
        if key.startswith(prefix):
            return model == family
    if key == "data.validation_fraction":
        return model in VALIDATING
    if key in CONDITIONAL_ONLY:
        return model in ("cgan", "diffusion")  # the diffusion model is conditional when the data has classes
    if key in GAN_ONLY:
        if model not in GANS:
            return False
        if key == "training.gp_lambda":
            return config.get("training", {}).get("loss") == "wgan-gp"
    return True

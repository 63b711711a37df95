"""Settings chosen from the data's size and the device, where the user gave none.

The presets are made for thousands of examples on a GPU. When `spectrogen train` is given no
setting of its own for them (the default preset):

* the GANs train with the fast recipe (FAST: hinge loss with one critic update per generator
  update, batch norm, learning rate 2e-4, the mode-seeking term; the conditional GAN also a
  projection critic) on a CPU, or below AUGMENT_BELOW examples on any device. The papers' recipes
  (SpecGAN's WGAN-GP with five critic updates) need far more steps than a CPU gives in minutes:
  they drew one texture for every class or noise vector (benchmarks/README.md: small data, one-shot
  drums). `training.recipe=paper` keeps the family's own settings, `fast` asks for the recipe on a GPU;
* a data set of fewer than SMALL_DATA training examples gets a batch of at most a quarter of them
  (a power of two, at least 2), a moving average of the generator's weights over about 100 steps,
  epochs enough for MIN_STEPS optimisation steps and, below AUGMENT_BELOW examples, DiffAugment
  (translation and cutout) for the GANs: the critic cannot memorise 20 spectrograms that it sees
  shifted and cut each time.

A setting the user gave (a flag, --set or a configuration file) is kept; where it is known to leave
too little training (fewer than MIN_STEPS steps), `warnings` says so once at the start.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from spectrogen.config import ExperimentConfig

SMALL_DATA = 1000  # training examples below which the small-data settings apply
MIN_STEPS = 2000  # steps the demo's engines needed for samples that resemble them (demo.py)
# 20 spoken phrases and 40 engine clips collapsed without augmentation and did not with it; the demo's
# 256 engine clips learn well without it (measured: benchmarks/README.md, Small data sets)
AUGMENT_BELOW = 200
GAN_FAMILIES = ("dcgan", "specgan", "cgan")
# on 20 spoken phrases the partial recipes tried all collapsed and the whole one did not (measured:
# benchmarks/README.md, `small_data.py`)
SMALL_GAN_RECIPE = {"training.loss": "hinge", "training.critic_steps": 1, "training.learning_rate": 2e-4,
                    "training.learning_rate_d": 2e-4, "model.batchnorm": True, "training.mode_seeking": 1.0}
# the conditional GAN's part of the fast recipe (benchmarks/README.md, one-shot drums)
CONDITIONAL_RECIPE = {"model.conditional.discriminator_input": "projection",
                      "model.conditional.auxiliary_classifier": 1.0}


def small_batch(train_examples: int, batch: int) -> int:
    """Returns the batch size for `train_examples`: at most a quarter of them, a power of two, at least 2."""
    limit = max(2, train_examples // 4)
    return min(batch, 2 ** int(math.log2(limit)))


def small_data_overrides(config: ExperimentConfig, train_examples: int, given: Iterable[str],
                         device: str = "cpu") -> list[tuple[str, Any]]:
    """Returns the (dotted key, value) settings for a data set of `train_examples` trained on `device`
    ("cpu" or "cuda"), leaving out the keys in `given`."""
    given = set(given)
    training = config.training
    chosen: dict[str, Any] = {}
    if config.model.name in GAN_FAMILIES and uses_fast_recipe(config, train_examples, device):
        chosen.update({key: value for key, value in fast_recipe(config).items() if _current(config, key) != value})
    if train_examples >= SMALL_DATA:
        return [(key, value) for key, value in chosen.items() if key not in given]
    batch = small_batch(train_examples, training.batch_size)
    if batch != training.batch_size:
        chosen["training.batch_size"] = batch
    if config.model.name in GAN_FAMILIES:
        if train_examples < AUGMENT_BELOW and not training.diffaugment:
            chosen["training.diffaugment"] = ["translation", "cutout"]
        if training.ema_decay is None:
            chosen["training.ema_decay"] = 0.99
    batch = chosen.get("training.batch_size", training.batch_size) if "training.batch_size" not in given \
        else training.batch_size
    steps_per_epoch = max(1, train_examples // batch)
    epochs = math.ceil(MIN_STEPS / steps_per_epoch)
    if epochs > training.epochs:
        chosen["training.epochs"] = epochs
    return [(key, value) for key, value in chosen.items() if key not in given]


def uses_fast_recipe(config: ExperimentConfig, train_examples: int, device: str) -> bool:
    """Returns whether a GAN trains with the fast recipe: asked for, or (auto) on a CPU or on a small data set."""
    recipe = config.training.recipe
    if recipe != "auto":
        return recipe == "fast"
    return device == "cpu" or train_examples < AUGMENT_BELOW


def fast_recipe(config: ExperimentConfig) -> dict[str, Any]:
    """Returns the fast recipe's settings for the GAN of `config` (the conditional GAN adds its critic's)."""
    recipe = dict(SMALL_GAN_RECIPE)
    if config.model.name == "cgan":
        recipe.update(CONDITIONAL_RECIPE)
    return recipe


def _current(config: ExperimentConfig, key: str) -> Any:
    """Returns the value of the dotted `key` ("training.loss", "model.conditional.base") in `config`."""
    value: Any = config
    for name in key.split("."):
        value = getattr(value, name)
    return value


def describe(overrides: list[tuple[str, Any]], train_examples: int, device: str = "cpu") -> str:
    """Returns the note that tells the user which settings were chosen for the data and the device, and why."""
    settings = ", ".join(f"{key.split('.', 1)[1]}={value}" for key, value in overrides)
    keys = {key for key, _ in overrides}
    reasons = []
    if keys & set(SMALL_GAN_RECIPE) | keys & set(CONDITIONAL_RECIPE):
        where = "on a CPU" if device == "cpu" else f"on {train_examples} examples"
        reasons.append(f"the fast GAN recipe {where} (the paper's settings: --set training.recipe=paper)")
    if train_examples < SMALL_DATA:
        reasons.append(f"{train_examples} training examples is a small data set")
    return f"{'; '.join(reasons)}: using {settings} (give any of them to choose your own)"


def warnings(config: ExperimentConfig, train_examples: int) -> list[str]:
    """Returns what is known to go wrong with these settings at this data size (said once, at the start)."""
    if train_examples >= SMALL_DATA or config.model.name not in GAN_FAMILIES:
        return []
    steps = config.training.epochs * max(1, train_examples // config.training.batch_size)
    lines = []
    if steps < MIN_STEPS:
        lines.append(f"{config.training.epochs} epochs of {train_examples} examples in batches of "
                     f"{config.training.batch_size} is {steps} steps: GANs trained this briefly on small data sets "
                     f"drew one texture for every noise vector in our measurements; aim for {MIN_STEPS} or more "
                     f"(--epochs {math.ceil(MIN_STEPS / max(1, train_examples // config.training.batch_size))})")
    if not config.training.diffaugment and train_examples < AUGMENT_BELOW:
        lines.append(f"on {train_examples} examples without augmentation the critic can memorise the data "
                     f"and the generator collapse to a few of them; consider "
                     f"--set 'training.diffaugment=[\"translation\",\"cutout\"]'")
    return lines

"""The settings chosen from the data set and the device where the user gave none, one recorded step each: `data set`,
the model's size (the data set's, or the nearest its family builds) and, for pictures, whole-image normalisation;
`fast GAN recipe`, on a CPU or a small data set (`training.recipe=paper` keeps the papers'); `small data`, a smaller
batch, EMA, MIN_STEPS steps and DiffAugment, so the critic cannot memorise the data."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional

from spectrogen.config import ExperimentConfig, build_config, config_to_dict
from spectrogen.config.loader import apply_overrides, value_at
from spectrogen.config.schema import GAN_FAMILIES, GAN_SIZES, MAX_IMAGE_SIDE

SMALL_DATA = 1000  # training examples below which the small-data settings apply
MIN_STEPS = 2000  # steps the demo's engines needed for samples that resemble them
AUGMENT_BELOW = 200  # examples below which the GANs collapsed without augmentation (benchmarks/README.md)
# the whole recipe: each part alone still collapsed on 20 spoken phrases (benchmarks/README.md)
SMALL_GAN_RECIPE = {"training.loss": "hinge", "training.critic_steps": 1, "training.learning_rate": 2e-4,
                    "training.learning_rate_d": 2e-4, "model.batchnorm": True, "training.mode_seeking": 1.0}
CONDITIONAL_RECIPE = {"model.conditional.discriminator_input": "projection",
                      "model.conditional.auxiliary_classifier": 1.0}
PICTURE_SOURCES = ("png", "mnist", "builtin:digits")  # their examples are pictures, not spectrograms
SMALLEST_SIDE = 32  # of a conditional GAN or a U-Net built here


def data_fit_overrides(config: ExperimentConfig, shape: tuple[int, int], source_kind: Optional[str],
                       given: Iterable[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """Returns ((dotted key, value) settings, notes) fitting the model to data of `shape` (F, T) from `source_kind`."""
    given = set(given)
    chosen: dict[str, Any] = {}
    notes: list[str] = []
    if "model.image_size" in given and "model.image_width" not in given:
        width, note = proportional_width(config, shape)
        if note:
            chosen["model.image_width"] = width
            notes.append(note)
    if not {"model.image_size", "model.image_width"} & given:
        height, width = buildable_size(config, shape)
        if (height, width) != (config.model.height, config.model.width):
            chosen["model.image_size"] = height
            chosen["model.image_width"] = None if width == height else width
        if (height, width) == tuple(shape):  # a size that differs is said where the data are resized
            notes.append(f"model size {height}x{width}: the data set's (set --image-size to choose another)")
    if source_kind in PICTURE_SOURCES and "data.normalization" not in given \
            and config.data.normalization == "per_frequency":
        chosen["data.normalization"] = "minmax"
        notes.append(f"the data set holds pictures ({source_kind}): normalised as whole images (minmax), not per "
                     "frequency row (--set data.normalization=per_frequency to change)")
    return list(chosen.items()), notes


def proportional_width(config: ExperimentConfig, shape: tuple[int, int]) -> tuple[Optional[int], Optional[str]]:
    """Returns (width, note) keeping a non-square data set's proportions when no width is set, else (None, None)."""
    height = config.model.height
    if config.model.image_width is not None or shape[0] == shape[1]:
        return None, None
    # 64 rows of 128 x 256 data are 64 x 128: a square model would squeeze 2 s of sound into the time of 1
    width = buildable_size(config, (height, round(height * shape[1] / shape[0])))[1]
    if width == config.model.width:
        return None, None
    return width, (f"model size {height}x{width}: a height of {height} with the data set's proportions "
                   f"({shape[0]}x{shape[1]}); set model.image_width (--image-width) to choose another")


def buildable_size(config: ExperimentConfig, shape: tuple[int, int]) -> tuple[int, int]:
    """Returns the (height, width) nearest to `shape` that the model family of `config` can build."""
    name = config.model.name
    height, width = (min(max(int(side), 1), MAX_IMAGE_SIDE) for side in shape)
    if name in GAN_FAMILIES:  # powers of two of at least 32, either side
        return _power_of_two(height), _power_of_two(width)
    if name == "diffusion":  # a multiple of the U-Net's total downsampling
        factor = 2 ** (len(config.model.diffusion.channel_multipliers) - 1)
        return _multiple(height, factor), _multiple(width, factor)
    return config.model.height, config.model.width  # the autoencoder sizes itself from its mel frames


def _power_of_two(side: int) -> int:
    side = max(side, SMALLEST_SIDE)
    candidates = [2 ** k for k in range(GAN_SIZES[0].bit_length() - 1, MAX_IMAGE_SIDE.bit_length())
                  if 2 ** k <= MAX_IMAGE_SIDE]
    # nearest on a log scale; a tie goes to the larger, which keeps the detail
    return min(candidates, key=lambda choice: (abs(math.log2(choice / side)), -choice))


def _multiple(side: int, factor: int) -> int:
    side = max(side, SMALLEST_SIDE)
    return max(factor, round(side / factor) * factor)


def resolve_settings(config: ExperimentConfig, dataset, given: Optional[Iterable[str]],
                     device: str = "cpu") -> tuple[ExperimentConfig, list[str]]:
    """Returns the configuration with the settings chosen for `dataset` and the `device` type applied, and the
    notes to say at the start. `given`: the dotted keys the user set, which are kept; None (a preset or a file)
    lets only a width the configuration leaves out follow the data set's proportions."""
    shape, examples = tuple(dataset.shape), len(dataset)
    if given is None:
        width, note = proportional_width(config, shape)
        steps = {"data set": [("model.image_width", width)] if note else []}
        notes = [note] if note else []
    else:
        given = set(given)
        source = dataset.metadata.get("source") or {}
        kind = source.get("kind") if isinstance(source, Mapping) else None
        fitted, notes = data_fit_overrides(config, shape, kind, given)
        chosen = small_data_overrides(config, examples, given, device)
        if chosen:
            notes.append(describe(chosen, examples, device))
        recipe = {**SMALL_GAN_RECIPE, **CONDITIONAL_RECIPE}
        steps = {"data set": fitted, "fast GAN recipe": [(key, value) for key, value in chosen if key in recipe],
                 "small data": [(key, value) for key, value in chosen if key not in recipe]}
    if any(steps.values()):
        raw = config_to_dict(config)
        for step, settings in steps.items():
            raw = apply_overrides(raw, settings, step)
        config = build_config(raw, source="the configuration with the settings chosen for the data set and device")
    return config, notes + warnings(config, examples)


def small_batch(train_examples: int, batch: int) -> int:
    """Returns the batch size for `train_examples`: at most a quarter of them, a power of two, at least 2."""
    limit = max(2, train_examples // 4)
    return min(batch, 2 ** int(math.log2(limit)))


def small_data_overrides(config: ExperimentConfig, train_examples: int, given: Iterable[str],
                         device: str = "cpu") -> list[tuple[str, Any]]:
    """Returns the (dotted key, value) settings of the fast recipe and the small-data step for `train_examples`
    on `device` ("cpu" or "cuda"), leaving out the keys in `given`."""
    given = set(given)
    training = config.training
    chosen: dict[str, Any] = {}
    # the fast recipe: asked for, or (auto) on a CPU or on a small data set
    fast = training.recipe == "fast" or (training.recipe == "auto" and
                                         (device == "cpu" or train_examples < AUGMENT_BELOW))
    if config.model.name in GAN_FAMILIES and fast:
        recipe = {**SMALL_GAN_RECIPE, **(CONDITIONAL_RECIPE if config.model.name == "cgan" else {})}
        chosen.update({key: value for key, value in recipe.items() if value_at(config, key) != value})
    if train_examples < SMALL_DATA:
        batch = training.batch_size if "training.batch_size" in given else small_batch(train_examples,
                                                                                         training.batch_size)
        if batch != training.batch_size:
            chosen["training.batch_size"] = batch
        if config.model.name in GAN_FAMILIES:
            if train_examples < AUGMENT_BELOW and not training.diffaugment:
                chosen["training.diffaugment"] = ["translation", "cutout"]
            if training.ema_decay is None:
                chosen["training.ema_decay"] = 0.99
        epochs = math.ceil(MIN_STEPS / max(1, train_examples // batch))
        if epochs > training.epochs:
            chosen["training.epochs"] = epochs
    return [(key, value) for key, value in chosen.items() if key not in given]


def describe(overrides: list[tuple[str, Any]], train_examples: int, device: str = "cpu") -> str:
    """Returns the note that tells the user which settings were chosen for the data and the device, and why."""
    settings = ", ".join(f"{key.split('.', 1)[1]}={value}" for key, value in overrides)
    keys = {key for key, _ in overrides}
    reasons = []
    if keys & (set(SMALL_GAN_RECIPE) | set(CONDITIONAL_RECIPE)):
        where = "on a CPU" if device == "cpu" else f"on {train_examples} examples"
        reasons.append(f"the fast GAN recipe {where} (the paper's settings: --set training.recipe=paper)")
    if train_examples < SMALL_DATA:
        reasons.append(f"{train_examples} training examples is a small data set")
    return f"{'; '.join(reasons)}: using {settings} (give any of them to choose your own)"


def warnings(config: ExperimentConfig, train_examples: int) -> list[str]:
    """Returns what is known to go wrong with these settings at this data size (said once, at the start)."""
    if train_examples >= SMALL_DATA or config.model.name not in GAN_FAMILIES:
        return []
    steps_per_epoch = max(1, train_examples // config.training.batch_size)
    steps = config.training.epochs * steps_per_epoch
    lines = []
    if steps < MIN_STEPS:
        lines.append(f"{config.training.epochs} epochs of {train_examples} examples in batches of "
                     f"{config.training.batch_size} is {steps} steps: GANs trained this briefly on small data sets "
                     f"drew one texture for every noise vector in our measurements; aim for {MIN_STEPS} or more "
                     f"(--epochs {math.ceil(MIN_STEPS / steps_per_epoch)})")
    if not config.training.diffaugment and train_examples < AUGMENT_BELOW:
        lines.append(f"on {train_examples} examples without augmentation the critic can memorise the data "
                     f"and the generator collapse to a few of them; consider "
                     f"--set 'training.diffaugment=[\"translation\",\"cutout\"]'")
    return lines

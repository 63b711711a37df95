"""The model's size and normalisation, where the user set none, taken from the data set.

Without `--image-size` the model takes the data set's (F, T) if its family can build it, else the
nearest size it can (a 32x32 digit is not upsampled to 128x128). Pictures (PNG, MNIST, digits) have
no frequency axis: they are normalised as whole images (minmax). Settings the user gave are kept.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional

from spectrogen.config import ExperimentConfig
from spectrogen.config.schema import GAN_FAMILIES, GAN_SIZES, MAX_IMAGE_SIDE

#: data sources whose examples are pictures, not spectrograms
PICTURE_SOURCES = ("png", "mnist", "builtin:digits")
#: the smallest side a conditional GAN or a U-Net is built at here
SMALLEST_SIDE = 32


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
    """Returns (width, note) keeping the data set's proportions at the model's height when only a height is
    set and the data set is not square; (None, None) otherwise."""
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


def _nearest(value: int, choices: Iterable[int]) -> int:
    # nearest on a log scale; a tie goes to the larger, which keeps the detail
    return min(choices, key=lambda choice: (abs(math.log2(choice / value)), -choice))


def _power_of_two(side: int) -> int:
    candidates = [2 ** k for k in range(GAN_SIZES[0].bit_length() - 1, MAX_IMAGE_SIDE.bit_length())
                  if 2 ** k <= MAX_IMAGE_SIDE]
    return _nearest(max(side, SMALLEST_SIDE), candidates)


def _multiple(side: int, factor: int) -> int:
    side = max(side, SMALLEST_SIDE)
    return max(factor, round(side / factor) * factor)


def source_kind_of(metadata: Mapping[str, Any]) -> Optional[str]:
    """Returns the kind of source a data set was prepared from ("audio", "png", ...), None when unknown."""
    source = metadata.get("source") or {}
    return source.get("kind") if isinstance(source, Mapping) else None

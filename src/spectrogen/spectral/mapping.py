"""Data-set features (N, F, T) <-> model inputs (N, 1, H, W): the one mapping between the two spaces. Where the sizes
differ the power |X|^2 is resized, once each way (see `resize_magnitude`), then normalised with the data set's
moments taken to H rows; pictures (kind "image", or no representation) have their values resized."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from spectrogen.errors import InputError
from spectrogen.spectral.compression import compress, decompress
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation
from spectrogen.spectral.resize import resize, resize_magnitude


class FeatureMapping(nn.Module):
    """Features (N, F, T) -> model inputs (N, 1, H, W) (`to_model`) and back (`to_features`)."""

    def __init__(self, representation: Optional[Representation], normalizer: Optional[Normalizer],
                 model_shape: tuple[int, int], data_shape: Optional[tuple[int, int]] = None):
        super().__init__()
        self.representation = representation
        self.model_shape = tuple(int(s) for s in model_shape)
        if data_shape is None:  # an unknown origin is taken to be at the model's size
            data_shape = representation.shape if representation is not None else self.model_shape
        self.data_shape = tuple(int(s) for s in data_shape)
        # the data set's normaliser (what checkpoints save) and the same at the model's rows
        self.data_normalizer = normalizer if normalizer is not None else Normalizer("none")
        self.normalizer = self.data_normalizer.for_rows(self.model_shape[0])

    @classmethod
    def of_dataset(cls, dataset, normalizer: str | Normalizer,
                   model_shape: Optional[tuple[int, int]] = None) -> "FeatureMapping":
        """Returns the mapping of a prepared data set to `model_shape` (default: its size); a `normalizer` given by
        kind takes the data set's moments."""
        if isinstance(normalizer, str):
            normalizer = Normalizer(normalizer, dataset.moments)
        shape = tuple(dataset.shape)
        return cls(dataset.representation, normalizer, model_shape or shape, shape)

    def description(self) -> dict[str, Any]:
        """Returns what checkpoints record of the mapping, as plain lists and dicts."""
        representation = self.representation.to_dict() if self.representation is not None else None
        return {"shape": [1, *self.model_shape], "source_shape": list(self.data_shape),
                "normalizer": self.data_normalizer.to_dict(), "representation": representation}

    @property
    def audible(self) -> bool:
        """True when the features came from audio: they have magnitudes, and a power to resize."""
        return self.representation is not None and self.representation.kind != "image"

    @property
    def resizes(self) -> bool:
        return self.model_shape != self.data_shape

    @property
    def device(self) -> torch.device:
        return self.normalizer.mean.device

    def note(self) -> Optional[str]:
        """Returns the line that says the sizes differ, or None when they do not."""
        if not self.resizes:
            return None
        (f, t), (h, w) = self.data_shape, self.model_shape
        what = "power" if self.audible else "values"
        return (f"the data set's examples are {f}x{t} (F x T), the model's {h}x{w}: each is resized once (its "
                f"{what}) as it is read; --image-size sets the model's size")

    def to_model(self, features: torch.Tensor) -> torch.Tensor:
        """Returns the model inputs (N, 1, H, W) of un-normalised features (N, F, T), on this mapping's device."""
        if tuple(features.shape[-2:]) != self.data_shape:
            raise InputError(f"features shaped {tuple(features.shape)} do not fit the data set's (N, "
                             f"{self.data_shape[0]}, {self.data_shape[1]})")
        x = features.to(self.device, torch.float32)
        if self.resizes:
            x = self._resize(x, self.model_shape)
        return self.normalizer(x).unsqueeze(1)

    def to_features(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the un-normalised features (N, F, T) of model arrays (N, 1, H, W); undoes :meth:`to_model`."""
        if x.dim() != 4 or x.shape[1] != 1 or tuple(x.shape[-2:]) != self.model_shape:
            raise InputError(f"arrays shaped {tuple(x.shape)} do not fit the model's (N, 1, {self.model_shape[0]}, "
                             f"{self.model_shape[1]})")
        features = self.normalizer.inverse(x[:, 0].to(self.device, torch.float32))
        return self._resize(features, self.data_shape) if self.resizes else features

    def magnitudes(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the magnitudes (N, F, T) behind model arrays (N, 1, H, W): mel-band ones for a mel representation."""
        return decompress(self.to_features(x), self.representation.log)

    def _resize(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if not self.audible:
            return resize(features, size)
        log = self.representation.log
        return compress(resize_magnitude(decompress(features, log), size), log)

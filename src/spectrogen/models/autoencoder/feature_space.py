"""Between the autoencoder's normalised input and the world: features, magnitudes and audio.

The model sees examples (B, 1, H, W): features normalised by the data set's `Normalizer`, then
resized to the model's shape when it differs from the data set's (F, T). `FeatureSpace` undoes that
(resize back, then un-normalise, the reverse order of the trainer's) and, for audio
representations, turns features into magnitudes (the inverse log of the representation: mel
magnitudes for a mel representation) and into audio by the representation's Griffin-Lim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from spectrogen.spectral.compression import decompress
from spectrogen.spectral.resize import resize


@dataclass
class FeatureSpace:
    """The normaliser and representation of a data set, and the (F, T) of its examples."""

    normalizer: torch.nn.Module
    representation: Optional[Any]  # spectrogen.spectral.Representation, None for unknown origin
    source_shape: tuple[int, int]  # (F, T) of one data set example

    @classmethod
    def of_dataset(cls, path: str | Path, normalization: str, device: torch.device) -> "FeatureSpace":
        """Returns the space of the prepared data set at `path` normalised by `normalization`."""
        from spectrogen.data.dataset import SpectrogramDataset
        from spectrogen.spectral.normalization import Normalizer

        dataset = SpectrogramDataset.open(path)
        return cls(Normalizer(normalization, dataset.moments).to(device), dataset.representation,
                   tuple(dataset.shape))

    @property
    def audible(self) -> bool:
        """True when the features came from audio, so magnitudes and sound can be made."""
        return self.representation is not None and self.representation.kind != "image"

    @property
    def device(self) -> torch.device:
        return next(iter(self.normalizer.buffers()), torch.empty(0)).device

    def to_model(self, features: torch.Tensor, model_shape: tuple[int, int]) -> torch.Tensor:
        """Returns un-normalised features (B, F, T) as the model sees them, (B, 1, H, W)."""
        x = self.normalizer(features.to(self.device).float()).unsqueeze(1)  # (B, 1, F, T)
        return resize(x, tuple(model_shape)) if tuple(x.shape[-2:]) != tuple(model_shape) else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the un-normalised features (B, F, T) of model-space examples (B, 1, H, W)."""
        x = x.to(self.device).float()
        if tuple(x.shape[-2:]) != tuple(self.source_shape):
            x = resize(x, self.source_shape)
        return self.normalizer.inverse(x[:, 0])

    def magnitudes(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the magnitudes (B, F, T) behind model-space examples (B, 1, H, W): the inverse log.

        For a mel representation these are mel-band magnitudes (linear amplitude, not log).
        """
        return magnitudes_of(self.features(x), self.representation)

    def audio(self, features: torch.Tensor, n_iter: int, seed: int = 0) -> np.ndarray:
        """Returns audio (B, S) float32 of features (B, F, T) by the representation's Griffin-Lim.

        The same `seed` gives the same initial phases, so two spectrograms inverted with one seed
        differ in sound only where they differ as spectrograms.
        """
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        with torch.inference_mode():
            audio = self.representation.to_audio(features.to(self.device).float(), n_iter=n_iter,
                                                 generator=generator)
        return audio.cpu().numpy().astype(np.float32, copy=False)


def magnitudes_of(features: torch.Tensor, representation) -> torch.Tensor:
    """Returns the magnitudes (>= 0) whose log-compression under `representation` is `features` (..., F, T)."""
    return decompress(features.float(), representation.log)

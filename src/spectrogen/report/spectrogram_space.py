"""How a run's spectrograms are shown and played: from the model's arrays to decibels and sound through the
data set's `FeatureMapping`, so generated and real ones reach the page and the loudspeaker by the same steps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

import numpy as np
import torch

from spectrogen.sampling.audio import to_audio
from spectrogen.sampling.images import value_range
from spectrogen.spectral.compression import DB_FLOOR
from spectrogen.spectral.mapping import FeatureMapping

DB_LABEL = "magnitude (dB)"
NORMALISED_LABEL = "normalised value"
DB_RANGE = 80.0  # quieter than this below the loudest cell is drawn as the floor colour


@dataclass
class SpectrogramSpace:
    """The representation, the normaliser and the model's size of one run; None where unknown."""

    representation: Optional[Any]  # spectrogen.spectral.representation.Representation
    normalizer: Optional[torch.nn.Module]
    model_shape: tuple[int, int]  # (H, W) of the model's samples

    @cached_property
    def mapping(self) -> FeatureMapping:
        return FeatureMapping(self.representation, self.normalizer, self.model_shape)

    @property
    def audible(self) -> bool:
        """True when samples can be turned back into features and sound."""
        return self.normalizer is not None and self.mapping.audible

    @property
    def value_label(self) -> str:
        """Returns the colour-bar label of the arrays that `display` gives."""
        return DB_LABEL if self.audible else NORMALISED_LABEL

    @property
    def axes_representation(self) -> Optional[Any]:
        """Returns the representation whose axes (s, Hz) fit the arrays that `display` gives, if any."""
        if self.audible or self.representation is None or tuple(self.representation.shape) == tuple(self.model_shape):
            return self.representation
        # rows of a resized image still span the same frequencies, so the axes can say so
        return self.representation.model_copy(update={"image_size": tuple(self.model_shape)})

    @torch.no_grad()
    def display(self, x) -> np.ndarray:
        """Returns the (N, rows, cols) arrays to draw for model arrays (N, 1, H, W): dB when audible."""
        if not self.audible:
            return np.asarray(x, dtype=np.float32)[:, 0]
        magnitude = self.mapping.magnitudes(torch.as_tensor(np.asarray(x, dtype=np.float32))).cpu()
        return (20.0 * torch.log10(magnitude.clamp_min(DB_FLOOR))).numpy()

    @torch.no_grad()
    def normalise(self, raw) -> np.ndarray:
        """Returns model arrays (N, 1, H, W) of raw data-set features (N, F, T), as training saw them."""
        return self.mapping.to_model(torch.as_tensor(np.asarray(raw, dtype=np.float32))).cpu().numpy()

    def audio(self, x, n_iter: int, seed: int = 0) -> np.ndarray:
        """Returns audio (N, S) of model arrays (N, 1, H, W) by the sampling API's Griffin-Lim inversion."""
        return to_audio(np.asarray(x, dtype=np.float32), self.representation, self.normalizer, n_iter=n_iter,
                        seed=seed)


def colour_range(*stacks: np.ndarray, decibels: bool) -> tuple[float, float]:
    """Returns one (vmin, vmax) for all `stacks`: the top `DB_RANGE` dB, or the joint min and max."""
    values = np.concatenate([np.asarray(s, dtype=np.float32).ravel() for s in stacks if np.size(s)])
    low, high = value_range(values, None, None)
    return (max(low, high - DB_RANGE) if decibels else low), high

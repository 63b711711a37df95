"""How a run's spectrograms are shown and played: from the model's normalised arrays to decibels and sound.

A model sees examples normalised and resized to its own (H, W) (`spectrogen.training.data_loading`).
Undoing that in the opposite order — resize back to the data set's (F, T), then the inverse
normalisation — gives features in the representation's log domain, which are shown in dB and
inverted to audio. Real examples take the forward path first, so generated and real spectrograms
reach the page (and the loudspeaker) through exactly the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from spectrogen.spectral.compression import DB_FLOOR, decompress
from spectrogen.spectral.resize import resize

DB_LABEL = "magnitude (dB)"
NORMALISED_LABEL = "normalised value"
DB_RANGE = 80.0  # quieter than this below the loudest cell is drawn as the floor colour


@dataclass
class SpectrogramSpace:
    """The representation, the normaliser and the model's size of one run; None where unknown."""

    representation: Optional[Any]  # spectrogen.spectral.representation.Representation
    normalizer: Optional[torch.nn.Module]
    model_shape: tuple[int, int]  # (H, W) of the model's samples

    @property
    def audible(self) -> bool:
        """True when samples can be turned back into features and sound."""
        return (self.representation is not None and self.normalizer is not None
                and getattr(self.representation, "kind", "image") != "image")

    @property
    def value_label(self) -> str:
        """Returns the colour-bar label of the arrays that `display` gives."""
        return DB_LABEL if self.audible else NORMALISED_LABEL

    @property
    def axes_representation(self) -> Optional[Any]:
        """Returns the representation whose axes (s, Hz) fit the arrays that `display` gives, if any."""
        if self.audible:
            return self.representation
        if self.representation is None or tuple(self.representation.shape) == tuple(self.model_shape):
            return self.representation
        # rows of a resized image still span the same frequencies, so the axes can say so
        return self.representation.model_copy(update={"image_size": tuple(self.model_shape)})

    def features(self, x) -> torch.Tensor:
        """Returns un-normalised features (N, F, T) at the data set's size of model arrays (N, 1, H, W)."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        device = next(iter(self.normalizer.buffers()), torch.empty(0)).device
        resized = resize(x.to(device), tuple(self.representation.shape))  # (N, 1, F, T)
        with torch.no_grad():
            return self.normalizer.inverse(resized[:, 0]).cpu()  # (N, F, T)

    def display(self, x) -> np.ndarray:
        """Returns the (N, rows, cols) arrays to draw for model arrays (N, 1, H, W): dB when audible."""
        if not self.audible:
            return np.asarray(x, dtype=np.float32)[:, 0]
        magnitude = decompress(self.features(x), self.representation.log)  # (N, F, T)
        return (20.0 * torch.log10(magnitude.clamp_min(DB_FLOOR))).numpy()

    def normalise(self, raw) -> np.ndarray:
        """Returns model arrays (N, 1, H, W) of raw data-set features (N, F, T), as training saw them."""
        x = torch.as_tensor(np.asarray(raw, dtype=np.float32))
        if self.normalizer is not None:
            device = next(iter(self.normalizer.buffers()), torch.empty(0)).device
            with torch.no_grad():
                x = self.normalizer(x.to(device)).cpu()
        return resize(x.unsqueeze(1), tuple(self.model_shape)).numpy()  # (N, 1, H, W)

    def audio(self, x, n_iter: int, seed: int = 0) -> np.ndarray:
        """Returns audio (N, S) of model arrays (N, 1, H, W) by the sampling API's Griffin-Lim inversion."""
        from spectrogen.sampling.audio import to_audio

        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        x = resize(x, tuple(self.representation.shape))  # (N, 1, F, T): where the normaliser's rows live
        return to_audio(x, self.representation, self.normalizer, n_iter=n_iter, seed=seed)


def colour_range(*stacks: np.ndarray, decibels: bool) -> tuple[float, float]:
    """Returns one (vmin, vmax) for all `stacks`: the top `DB_RANGE` dB, or the joint min and max."""
    values = np.concatenate([np.asarray(s, dtype=np.float32).ravel() for s in stacks if np.size(s)])
    high = float(values.max())
    low = max(float(values.min()), high - DB_RANGE) if decibels else float(values.min())
    return (low, high) if high > low else (low, low + 1.0)

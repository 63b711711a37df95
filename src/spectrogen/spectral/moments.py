"""Data-set moments of spectrograms in one streaming pass: per-frequency mean and std (SpecGAN's), min, max.
Batches are combined with Chan, Golub & LeVeque's parallel update in float64: the result equals a two-pass
computation, in the memory of one batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from spectrogen.errors import InputError


@dataclass(frozen=True)
class Moments:
    """Statistics of a data set of (F, T) spectrograms: mean and std per frequency row, min, max."""

    mean: np.ndarray  # (F,) float64
    std: np.ndarray  # (F,) float64, population std (ddof=0, as numpy's and SpecGAN's)
    min: float
    max: float
    count: int  # values per frequency row: examples x frames

    def to_dict(self) -> dict[str, Any]:
        """Returns plain lists and numbers (JSON- and checkpoint-safe)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "min": self.min,
                "max": self.max, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Moments":
        """Returns the moments saved by :meth:`to_dict`; InputError names a missing or bad key."""
        try:
            mean = np.asarray(data["mean"], dtype=np.float64)
            std = np.asarray(data["std"], dtype=np.float64)
            moments = cls(mean, std, float(data["min"]), float(data["max"]), int(data["count"]))
        except KeyError as missing:
            raise InputError(f"moments lack the key {missing.args[0]!r} (need mean, std, min, max, count)") from None
        except (TypeError, ValueError) as error:
            raise InputError(f"moments are malformed: {error}") from None
        if mean.ndim != 1 or mean.shape != std.shape:
            raise InputError(f"moments: mean {mean.shape} and std {std.shape} must be two vectors of one length")
        return moments


class MomentAccumulator:
    """Streams batches of spectrograms (..., F, T) into :class:`Moments`; memory is O(F)."""

    def __init__(self) -> None:
        self._count = 0
        self._mean: np.ndarray | None = None  # (F,) float64
        self._m2: np.ndarray | None = None  # (F,) float64, sum of squared deviations
        self._min = np.inf
        self._max = -np.inf

    def update(self, batch: torch.Tensor | np.ndarray) -> None:
        """Adds a batch (..., F, T); every leading axis and the time axis count as observations."""
        values = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
        if values.ndim < 2:
            raise InputError(f"moments need arrays of shape (..., F, T), got shape {values.shape}")
        if values.size == 0:
            return
        if self._mean is not None and values.shape[-2] != self._mean.shape[0]:
            raise InputError(f"moments: batch has {values.shape[-2]} frequency rows, earlier batches had "
                             f"{self._mean.shape[0]}")
        # the extremes in the batch's own precision double as the finiteness check (NaN propagates)
        low, high = float(values.min()), float(values.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise InputError("moments: the batch holds NaN or infinite values")
        # a float64 copy in the batch's own layout (N, F, T): no gather of the frequency rows
        rows = values.astype(np.float64, order="C", copy=True).reshape(-1, *values.shape[-2:])
        n = rows.shape[0] * rows.shape[2]
        mean = rows.sum(axis=(0, 2)) / n
        rows -= mean[None, :, None]  # in place: the deviations from the batch's mean
        m2 = np.einsum("nft,nft->f", rows, rows)
        if self._mean is None:
            self._count, self._mean, self._m2 = n, mean, m2
        else:
            total = self._count + n
            delta = mean - self._mean
            self._mean = self._mean + delta * (n / total)
            self._m2 = self._m2 + m2 + np.square(delta) * (self._count * n / total)
            self._count = total
        self._min = min(self._min, low)
        self._max = max(self._max, high)

    def result(self) -> Moments:
        """Returns the moments of everything added so far; InputError when nothing was added."""
        if self._mean is None:
            raise InputError("moments: no data was added (the data set is empty)")
        std = np.sqrt(self._m2 / self._count)
        return Moments(self._mean.copy(), std, self._min, self._max, self._count)

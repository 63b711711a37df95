"""Normalisation of spectrograms into the range a model trains on, and its inverse (``data.normalization``):
``per_frequency`` SpecGAN's (x - mean_f) / std_f / 3 clipped to [-1, 1] (a row of std 0 only centred); ``minmax``
the data set's [min, max] to [-1, 1] (DCGAN's), ``minmax01`` to [0, 1]; ``per_sample`` each example's own [min, max]
to [-1, 1], a scale not stored, so the inverse maps back to the data set's full range; ``none`` identity."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral.moments import Moments
from spectrogen.spectral.resize import resize

NormalizationKind = Literal["per_frequency", "minmax", "minmax01", "per_sample", "none"]


def normalize(x: torch.Tensor, kind: NormalizationKind, mean: torch.Tensor, scale: torch.Tensor,
              low: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """Returns `x` (..., F, T) in the normalised range of `kind`; `mean`, `scale` (F,): centre and 3 x std (0 replaced
    by 3); `low`, `span` 0-d: min and max - min (0 replaced by 1)."""
    if kind == "per_frequency":
        return ((x - mean[:, None]) / scale[:, None]).clamp(-1.0, 1.0)
    if kind == "minmax":
        return (x - low) * (2.0 / span) - 1.0
    if kind == "minmax01":
        return (x - low) / span
    if kind == "per_sample":
        lo = x.amin(dim=(-2, -1), keepdim=True)
        hi = x.amax(dim=(-2, -1), keepdim=True)
        width = hi - lo
        # a constant example has no range: it maps to 0, the middle
        return (2.0 * x - lo - hi) / torch.where(width > 0, width, 1.0)
    if kind == "none":
        return x
    raise _unknown(kind)


def denormalize(y: torch.Tensor, kind: NormalizationKind, mean: torch.Tensor, scale: torch.Tensor,
                low: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """Returns the features (..., F, T) whose normalisation is `y`; undoes :func:`normalize`."""
    if kind == "per_frequency":
        return y * scale[:, None] + mean[:, None]
    if kind in ("minmax", "per_sample"):
        return (y + 1.0) * (span / 2.0) + low
    if kind == "minmax01":
        return y * span + low
    if kind == "none":
        return y
    raise _unknown(kind)


def _unknown(kind: str) -> ConfigError:
    return ConfigError(f"data.normalization={kind!r}: use one of {', '.join(get_args(NormalizationKind))}")


class Normalizer(nn.Module):
    """Features (..., F, T) -> normalised (`forward`) and back (`inverse`), from data-set moments."""

    def __init__(self, kind: NormalizationKind, moments: Moments | None = None):
        super().__init__()
        if kind not in get_args(NormalizationKind):
            raise _unknown(kind)
        if moments is None and kind != "none":
            raise ConfigError(f"data.normalization={kind!r} needs the data set's moments")
        self.kind = kind
        self.moments = moments
        mean, std, low, high = ((np.zeros(0), np.zeros(0), 0.0, 1.0) if moments is None
                                else (moments.mean, moments.std, moments.min, moments.max))
        # a frequency row that never varies would divide by zero; it is only centred instead
        scale = 3.0 * np.where(std > 0, std, 1.0)
        span = high - low if high > low else 1.0
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32), persistent=False)
        self.register_buffer("low", torch.tensor(float(low)), persistent=False)
        self.register_buffer("span", torch.tensor(float(span)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_rows(x)
        return normalize(x, self.kind, self.mean, self.scale, self.low, self.span)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check_rows(y)
        return denormalize(y, self.kind, self.mean, self.scale, self.low, self.span)

    def _check_rows(self, x: torch.Tensor) -> None:
        if self.kind == "per_frequency" and (x.dim() < 2 or x.shape[-2] != self.mean.shape[0]):
            raise InputError(f"per_frequency normalisation has moments for {self.mean.shape[0]} frequency rows "
                             f"but the input has shape {tuple(x.shape)} (frequency is axis -2)")

    def for_rows(self, rows: int) -> "Normalizer":
        """Returns this normaliser for features resized to `rows` frequency rows (itself when nothing changes): the
        per-frequency means and deviations resized along frequency like the rows themselves."""
        if self.kind != "per_frequency" or rows == self.mean.shape[0]:
            return self
        # as two columns: antialiased interpolation of a single column gives a constant
        mean, std = (resize(torch.as_tensor(v)[:, None].expand(-1, 2), (rows, 2))[:, 0].numpy()
                     for v in (self.moments.mean, self.moments.std))
        return Normalizer(self.kind, replace(self.moments, mean=mean, std=std)).to(self.mean.device)

    def to_dict(self) -> dict[str, Any]:
        """Returns the kind and the moments as plain lists and floats (safe in checkpoints)."""
        return {"kind": self.kind, "moments": None if self.moments is None else self.moments.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Normalizer":
        """Returns the normaliser saved by :meth:`to_dict`."""
        if not isinstance(data, dict) or "kind" not in data:
            raise InputError("normalizer: expected a dict with 'kind' and 'moments'")
        moments = data.get("moments")
        return cls(data["kind"], None if moments is None else Moments.from_dict(moments))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, frequencies={self.mean.shape[0]}"

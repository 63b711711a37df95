"""Batched spectrogram augmentations of (B, F, T) or (B, C, F, T) tensors, reproducible with a generator: one random
setting per example (shared by its channels), applied to the examples `apply` (B,) selects. None reverses time or
frequency: a flipped spectrogram is a different sound."""

from __future__ import annotations

import torch
from torch import nn

from spectrogen.config.schema import AugmentConfig


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Returns U[0, 1) draws on `device`, taken from `generator` on its own device."""
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def _per_example(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Returns `values` (B,) shaped to broadcast against `x` (B, ..., F, T)."""
    return values.reshape(-1, *([1] * (x.dim() - 1)))


def _select(apply: torch.Tensor | None, changed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return changed if apply is None else torch.where(_per_example(x, apply), changed, x)


def temporal_shift(x: torch.Tensor, max_fraction: float, generator: torch.Generator | None = None,
                   apply: torch.Tensor | None = None) -> torch.Tensor:
    """Returns `x` rolled along time by a random whole number of frames in [-m, m], m = max_fraction * T."""
    frames = x.shape[-1]
    reach = int(max_fraction * frames)
    if reach == 0:
        return x
    shifts = (_uniform((x.shape[0],), generator, x.device) * (2 * reach + 1)).long() - reach  # (B,)
    source = (torch.arange(frames, device=x.device) - _per_example(x, shifts)) % frames  # (B, 1.., T)
    return _select(apply, torch.gather(x, -1, source.expand_as(x)), x)


def gaussian_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None,
                   apply: torch.Tensor | None = None) -> torch.Tensor:
    """Returns `x` plus N(0, std^2) noise."""
    if std == 0:
        return x
    source = generator.device if generator is not None else x.device
    noise = torch.randn(x.shape, generator=generator, device=source, dtype=x.dtype).to(x.device)
    return _select(apply, x + std * noise, x)


def _mask(x: torch.Tensor, axis: int, max_width: int, generator: torch.Generator | None,
          apply: torch.Tensor | None, value: float) -> torch.Tensor:
    """Returns `x` with one random band of 0..max_width entries along `axis` (-2 or -1) set to `value`."""
    if max_width == 0:
        return x
    length = x.shape[axis]
    max_width = min(max_width, length)
    draws = _uniform((2, x.shape[0]), generator, x.device)
    width = (draws[0] * (max_width + 1)).long()  # (B,)
    start = (draws[1] * (length - width + 1)).long()  # (B,)
    position = torch.arange(length, device=x.device)
    band = (position >= start[:, None]) & (position < (start + width)[:, None])  # (B, L)
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[axis] = length
    band = band.reshape(shape)
    if apply is not None:
        band = band & _per_example(band, apply)
    return x.masked_fill(band, value)


def frequency_mask(x: torch.Tensor, max_width: int, generator: torch.Generator | None = None,
                   apply: torch.Tensor | None = None, value: float = 0.0) -> torch.Tensor:
    """Returns `x` with one band of 0..max_width frequency rows set to `value` (SpecAugment)."""
    return _mask(x, -2, max_width, generator, apply, value)


def time_mask(x: torch.Tensor, max_width: int, generator: torch.Generator | None = None,
              apply: torch.Tensor | None = None, value: float = 0.0) -> torch.Tensor:
    """Returns `x` with one band of 0..max_width frames set to `value`."""
    return _mask(x, -1, max_width, generator, apply, value)


def time_stretch(x: torch.Tensor, max_stretch: float, generator: torch.Generator | None = None,
                 apply: torch.Tensor | None = None, value: float = 0.0) -> torch.Tensor:
    """Returns `x` stretched in time by a random rate in [1 - s, 1 + s] (linear interpolation along time), the start
    in place: a slowed example is cropped at the end, a sped-up one padded with `value`."""
    if max_stretch == 0:
        return x
    frames = x.shape[-1]
    rate = 1.0 + max_stretch * (2.0 * _uniform((x.shape[0],), generator, x.device) - 1.0)  # (B,)
    # output frame t shows input time t / rate: rate > 1 lengthens (slows) the sound
    position = torch.arange(frames, device=x.device, dtype=torch.float32) / rate[:, None]  # (B, T)
    left = position.floor().long().clamp_max(frames - 1)
    right = (left + 1).clamp_max(frames - 1)
    weight = (position - left).to(x.dtype)
    shape = (x.shape[0], *([1] * (x.dim() - 2)), frames)
    left, right, weight = left.reshape(shape), right.reshape(shape), weight.reshape(shape)
    stretched = torch.lerp(torch.gather(x, -1, left.expand_as(x)), torch.gather(x, -1, right.expand_as(x)), weight)
    outside = (position > frames - 1).reshape(shape)
    return _select(apply, stretched.masked_fill(outside, value), x)


class Augment(nn.Module):
    """Applies the enabled augmentations (stretch, shift, masks, noise, in order), each with `config.probability`."""

    def __init__(self, config: AugmentConfig | None = None):
        super().__init__()
        self.config = config or AugmentConfig()

    @property
    def _steps(self) -> tuple:
        c = self.config
        return ((time_stretch, c.time_stretch), (temporal_shift, c.temporal_shift), (frequency_mask, c.freq_mask),
                (time_mask, c.time_mask), (gaussian_noise, c.noise_std))

    @property
    def enabled(self) -> bool:
        return any(setting for _, setting in self._steps) and self.config.probability > 0

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.enabled:
            return x
        for augmentation, setting in self._steps:
            if setting:
                picked = _uniform((x.shape[0],), generator, x.device) < self.config.probability
                x = augmentation(x, setting, generator, picked)
        return x

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.model_dump().items() if v)

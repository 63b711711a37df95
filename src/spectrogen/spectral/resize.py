"""Resizing of spectrogram images (frequency x time) to the size a model is built for."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Returns `x` (..., H, W) resized to (..., *size) by antialiased bilinear interpolation (`x` when it fits)."""
    height, width = x.shape[-2:]
    if (height, width) == tuple(size):
        return x
    flat = x.reshape(-1, 1, height, width)  # (N, 1, H, W)
    out = F.interpolate(flat.float(), size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*x.shape[:-2], *size).to(x.dtype)


def resize_magnitude(magnitude: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Returns a magnitude spectrogram (..., H, W) resized to `size` with its energy kept: the power |X|^2 is resized,
    then its root taken (resizing log features takes a geometric mean, which quiet cells pull far below the power's)."""
    if tuple(magnitude.shape[-2:]) == tuple(size):
        return magnitude
    return resize(magnitude * magnitude, size).clamp_min_(0.0).sqrt_()

"""Resizing of spectrogram images (frequency x time) to the size a model is built for."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Returns `x` (..., H, W) resized to (..., size[0], size[1]) by antialiased bilinear interpolation.

    Antialiasing makes shrinking average over the covered cells (like area interpolation) instead
    of skipping rows, and does nothing when enlarging. Returns `x` itself when the size matches.
    """
    height, width = x.shape[-2:]
    if (height, width) == tuple(size):
        return x
    flat = x.reshape(-1, 1, height, width)  # (N, 1, H, W)
    out = F.interpolate(flat.float(), size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*x.shape[:-2], *size).to(x.dtype)

"""DiffAugment (Zhao et al. 2020) of the critic's inputs, so that it cannot memorise a small data set: only
a shift along time and cutout, which keep a spectrogram a spectrogram (nothing moves along frequency or flips)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from spectrogen.errors import ConfigError

TRANSLATION_RATIO = 0.125  # largest shift, as a fraction of the frames (DiffAugment's 1/8)
CUTOUT_RATIO = 0.5  # side of the cut-out rectangle, as a fraction of each side (DiffAugment's 1/2)


def translate_time(x: torch.Tensor, *, ratio: float = TRANSLATION_RATIO,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Returns (B, C, F, T) shifted along time by a random whole number of frames per example, zero-filled."""
    batch, _, _, frames = x.shape
    limit = int(frames * ratio + 0.5)
    shift = torch.randint(-limit, limit + 1, (batch, 1, 1, 1), device=x.device, generator=generator)
    source = torch.arange(frames, device=x.device).view(1, 1, 1, frames) - shift  # (B, 1, 1, T)
    inside = (source >= 0) & (source < frames)
    index = source.clamp(0, frames - 1).expand_as(x)
    return torch.gather(x, -1, index) * inside.to(x.dtype)


def cutout(x: torch.Tensor, *, ratio: float = CUTOUT_RATIO,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Returns (B, C, F, T) with one random rectangle per example (ratio of each side) set to zero."""
    batch, _, rows, frames = x.shape
    height, width = int(rows * ratio + 0.5), int(frames * ratio + 0.5)
    # centres anywhere in the image, so that the rectangle may hang over an edge
    top = torch.randint(0, rows, (batch, 1, 1, 1), device=x.device, generator=generator) - height // 2
    left = torch.randint(0, frames, (batch, 1, 1, 1), device=x.device, generator=generator) - width // 2
    row = torch.arange(rows, device=x.device).view(1, 1, rows, 1)
    frame = torch.arange(frames, device=x.device).view(1, 1, 1, frames)
    inside = (row >= top) & (row < top + height) & (frame >= left) & (frame < left + width)  # (B, 1, F, T)
    return x * (~inside).to(x.dtype)


OPERATIONS = {"translation": translate_time, "cutout": cutout}


class DiffAugment:
    """Callable applying the named operations, in order, to a batch (B, C, F, T); identity when none are named."""

    def __init__(self, policies: Sequence[str] = ()):
        unknown = [name for name in policies if name not in OPERATIONS]
        if unknown:
            raise ConfigError(f"training.diffaugment: unknown operation(s) {unknown}; "
                              f"choose from {sorted(OPERATIONS)}")
        self.policies = tuple(policies)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        for name in self.policies:
            x = OPERATIONS[name](x, generator=generator)
        return x

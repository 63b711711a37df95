"""MSGAN's mode-seeking term (Mao et al. 2019): 1 / mean(|G(z1) - G(z2)| / |z1 - z2|) over pairs of the batch, of
one class each for a conditional model (whose critic otherwise rewards each class's most typical sample)."""

from __future__ import annotations

from typing import Optional

import torch

EPSILON = 1e-5  # keeps the inverse finite when a pair is identical (a fully collapsed generator)


def same_class_pairs(n: int, labels: Optional[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns index tensors (P,), (P,) of disjoint pairs of the batch's n examples, of one class each when labelled."""
    order = torch.arange(n, device=device) if labels is None else torch.sort(labels, stable=True).indices
    first, second = order[0:n - 1:2], order[1:n:2]  # neighbours in class order: (0, 1), (2, 3), ...
    if labels is not None:
        keep = labels[first] == labels[second]  # a class with an odd count leaves one pair mixed: dropped
        first, second = first[keep], second[keep]
    return first, second


def mode_seeking_loss(fake: torch.Tensor, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Returns the term (0-d) for generated examples `fake` (B, ...) made from noise `z` (B, D) [and `labels`
    (B,)]; zero, with a zero gradient, when the batch holds no pair of one class."""
    first, second = same_class_pairs(fake.shape[0], labels, fake.device)
    if first.numel() == 0:
        return fake.sum() * 0.0
    samples = (fake[first] - fake[second]).abs().flatten(1).mean(dim=1)  # (P,)
    noise = (z[first] - z[second]).abs().flatten(1).mean(dim=1)  # (P,)
    return 1.0 / ((samples / noise).mean() + EPSILON)

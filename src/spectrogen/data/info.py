"""What a model family is told about its data: the shape and classes of an example, and one batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch


@dataclass
class Batch:
    """One training batch on the training device."""

    x: torch.Tensor  # (B, C, H, W), normalised range of the data set (usually [-1, 1])
    y: Optional[torch.Tensor] = None  # (B,) int64 class indices, or None for unlabelled data


@dataclass
class DataInfo:
    """What a method needs to know about its data set to build its networks."""

    shape: tuple[int, int, int]  # (C, H, W) of one training example
    class_names: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

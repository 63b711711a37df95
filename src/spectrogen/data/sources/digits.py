"""`builtin:digits`: scikit-learn's 1,797 handwritten 8x8 digits (nothing is downloaded), upsampled
bilinearly to 32x32, values in [0, 1], stored bottom row first."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from spectrogen.data.sources.base import ArraySource, Item

SIZE = 32


def load_digits_32() -> tuple[np.ndarray, np.ndarray]:
    """Returns the digits as ((N, 32, 32) float32 in [0, 1], top row first; (N,) int64 labels)."""
    from sklearn.datasets import load_digits  # deferred: scikit-learn is slow to import

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)  # (N, 8, 8), pixel values 0..16
    large = F.interpolate(small[:, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0]
    return large.clamp_(0.0, 1.0).numpy(), digits.target.astype(np.int64)


class BuiltinDigits(ArraySource):
    """`builtin:digits`: ten classes "0".."9"."""

    def scan(self) -> list[Item]:
        self.class_names = [str(digit) for digit in range(10)]
        return [Item("sklearn-digits", 0)]

    def probe(self, item: Item) -> tuple[int, int]:
        return SIZE, SIZE

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        images, labels = load_digits_32()
        yield np.ascontiguousarray(images[:, ::-1]), labels  # (N, 32, 32), bottom row first

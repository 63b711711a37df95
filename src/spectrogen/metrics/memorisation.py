"""Memorisation check: how near each generated example lies to the training set and to held-out data.

As in the SpecGAN paper (Donahue et al. 2019): a generator that copies its training data puts its
samples much nearer to the training set than to equally real data it never saw, and nearer than
training examples lie to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from spectrogen.metrics.neighbours import nearest_distances

# a generated example is called a near-copy when it lies nearer to the training set than this quantile
# of the training set's own leave-one-out nearest-neighbour distances; fresh samples of the data
# distribution fall below it about this often
COPY_QUANTILE = 0.05


@dataclass
class MemorisationResult:
    """Nearest-neighbour distances (root mean square per pixel) of generated examples."""

    train_mean: float
    train_min: float
    heldout_mean: Optional[float]
    heldout_min: Optional[float]
    train_self_mean: float  # mean leave-one-out NN distance within the training reference itself
    copy_fraction: float  # share of generated examples nearer than COPY_QUANTILE of train_self
    # mean distance of samples to the training set over that of held-out examples to the same set:
    # about 1 when samples are as new as unseen real data, well below 1 when they copy it. (Comparing
    # with distances to the held-out set instead would favour the larger set by its size alone.)
    train_heldout_ratio: Optional[float] = None

    def as_dict(self) -> dict[str, float]:
        values = {
            "nn_train_mean": self.train_mean, "nn_train_min": self.train_min,
            "nn_train_self_mean": self.train_self_mean, "nn_copy_fraction": self.copy_fraction,
        }
        if self.heldout_mean is not None:
            values.update(nn_heldout_mean=self.heldout_mean, nn_heldout_min=self.heldout_min,
                          nn_train_heldout_ratio=self.train_heldout_ratio)
        return values


def nearest_neighbour_check(fake: np.ndarray, train: np.ndarray, heldout: Optional[np.ndarray] = None,
                            *, max_reference: int = 2000, seed: int = 0) -> MemorisationResult:
    """Returns the nearest-neighbour distances of `fake` (M, ...) to `train` (N, ...) and `heldout`.

    Distances are Euclidean over all pixels divided by sqrt(pixels), so they read as an RMS
    difference in the data's units, the same at every image size. A training set larger than
    `max_reference` is subsampled (seeded) to bound the cost.
    """
    fake = np.asarray(fake, dtype=np.float32)
    scale = 1.0 / np.sqrt(np.prod(fake.shape[1:]))
    rng = np.random.default_rng(seed)

    def reference(x: np.ndarray) -> np.ndarray:
        if len(x) > max_reference:
            x = x[np.sort(rng.choice(len(x), max_reference, replace=False))]
        return np.asarray(x, dtype=np.float32)

    train = reference(train)
    to_train = nearest_distances(fake, train) * scale
    train_self = nearest_distances(train, train, exclude_self=True) * scale
    threshold = np.quantile(train_self, COPY_QUANTILE)
    result = MemorisationResult(
        train_mean=float(to_train.mean()), train_min=float(to_train.min()), heldout_mean=None, heldout_min=None,
        train_self_mean=float(train_self.mean()), copy_fraction=float((to_train < threshold).mean()),
    )
    if heldout is not None and len(heldout) > 0:
        heldout = reference(heldout)
        to_heldout = nearest_distances(fake, heldout) * scale
        result.heldout_mean, result.heldout_min = float(to_heldout.mean()), float(to_heldout.min())
        heldout_to_train = nearest_distances(heldout, train) * scale
        result.train_heldout_ratio = float(to_train.mean() / max(heldout_to_train.mean(), 1e-12))
    return result

"""Euclidean nearest-neighbour distances in memory-bounded chunks, and the figures built on them: improved
precision and recall (Kynkäänniemi et al. 2019) and the memorisation check (Donahue et al. 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

# rows of the query set handled at once: a (chunk, M) distance block stays small even for M in the tens of
# thousands, and matrix products on blocks are what makes cdist fast on CPU
_CHUNK = 512
# a near-copy lies nearer to the training set than this quantile of the training set's own leave-one-out
# distances (as often as fresh samples of the data do)
COPY_QUANTILE = 0.05


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32).reshape(len(x), -1)


def nearest_distances(queries: np.ndarray, reference: np.ndarray, *, k: int = 1,
                      exclude_self: bool = False) -> np.ndarray:
    """Returns the distance of each query (Q, ...) to its k-th nearest reference vector (M, ...), shape (Q,);
    `exclude_self`: the two sets are the same, and each vector's distance to itself is skipped."""
    q, ref = _as_tensor(queries), _as_tensor(reference)
    needed = k + 1 if exclude_self else k
    if len(ref) < needed:
        raise ValueError(f"need at least {needed} reference vectors for k={k}, got {len(ref)}")
    out = torch.empty(len(q))
    for start in range(0, len(q), _CHUNK):
        block = torch.cdist(q[start:start + _CHUNK], ref)  # (chunk, M)
        if exclude_self:
            rows = torch.arange(block.shape[0])
            block[rows, rows + start] = float("inf")
        out[start:start + _CHUNK] = block.topk(k, dim=1, largest=False).values[:, -1]
    return out.double().numpy()


def within_any_ball(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Returns, for each query, whether it lies within radius `radii[j]` of some centre `j`, shape (Q,) bool."""
    q, c = _as_tensor(queries), _as_tensor(centres)
    r = torch.as_tensor(radii, dtype=torch.float32)
    inside = torch.zeros(len(q), dtype=torch.bool)
    for start in range(0, len(q), _CHUNK):
        block = torch.cdist(q[start:start + _CHUNK], c)  # (chunk, M)
        inside[start:start + _CHUNK] = (block <= r[None, :]).any(dim=1)
    return inside.numpy()


def manifold_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
    """Returns each vector's distance to its k-th nearest neighbour in the same set, shape (N,)."""
    return nearest_distances(features, features, k=k, exclude_self=True)


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Returns (precision, recall) of generated features (M, D) against real ones (N, D): the share of generated
    vectors inside the real manifold (balls reaching each vector's k-th neighbour), and the reverse."""
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    precision = within_any_ball(fake, real, manifold_radii(real, k)).mean()
    recall = within_any_ball(real, fake, manifold_radii(fake, k)).mean()
    return float(precision), float(recall)


@dataclass
class MemorisationResult:
    """Nearest-neighbour distances (root mean square per pixel) of generated examples."""

    train_mean: float
    train_min: float
    heldout_mean: Optional[float]
    heldout_min: Optional[float]
    train_self_mean: float  # mean leave-one-out NN distance within the training reference itself
    copy_fraction: float  # share of generated examples nearer than COPY_QUANTILE of train_self
    # mean distance of samples to the training set over that of held-out examples to it: about 1 when samples
    # are as new as unseen real data (distances to the held-out set would favour the larger set)
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
    """Returns the distances of `fake` (M, ...) to `train` (N, ...) and `heldout` as RMS differences per pixel
    (sets larger than `max_reference` subsampled): a copying generator's samples lie nearer to the training set."""
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

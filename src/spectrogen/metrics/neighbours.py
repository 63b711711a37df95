"""Euclidean nearest-neighbour distances between two sets of vectors, computed in memory-bounded chunks."""

from __future__ import annotations

import numpy as np
import torch

# rows of the query set handled at once: a (chunk, M) distance block stays small even for M in the tens of
# thousands, and matrix products on blocks are what makes cdist fast on CPU
_CHUNK = 512


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32).reshape(len(x), -1)


def nearest_distances(queries: np.ndarray, reference: np.ndarray, *, k: int = 1,
                      exclude_self: bool = False) -> np.ndarray:
    """Returns the distance of each query to its k-th nearest reference vector, shape (Q,).

    `queries` (Q, ...) and `reference` (M, ...) are flattened to vectors. With `exclude_self` the two
    sets are the same and each vector's zero distance to itself is skipped (leave-one-out).
    """
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

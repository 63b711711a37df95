"""Improved precision and recall of Kynkäänniemi et al. (2019) in a feature space.

The real manifold is the union of balls around each real feature vector, each with the radius of its
k-th nearest real neighbour; precision is the share of generated vectors inside it. Recall swaps the
roles: the share of real vectors inside the generated manifold. A collapsed generator keeps its
precision but loses its recall.
"""

from __future__ import annotations

import numpy as np

from spectrogen.metrics.neighbours import nearest_distances, within_any_ball


def manifold_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
    """Returns each vector's distance to its k-th nearest neighbour in the same set, shape (N,)."""
    return nearest_distances(features, features, k=k, exclude_self=True)


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Returns (precision, recall) of generated features (M, D) against real features (N, D), each in [0, 1]."""
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    precision = within_any_ball(fake, real, manifold_radii(real, k)).mean()
    recall = within_any_ball(real, fake, manifold_radii(fake, k)).mean()
    return float(precision), float(recall)

"""Inception score from a classifier's class probabilities (the SpecGAN paper's protocol)."""

from __future__ import annotations

import numpy as np


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Returns the inception score exp(mean_x KL(p(y|x) || p(y))), from 1 to the number of classes, as (mean,
    std) over `splits` consecutive parts of the class probabilities (N, K)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (N, K), got shape {p.shape}")
    splits = max(1, min(splits, len(p)))
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # 0 · log 0 = 0: classes a sample gives no probability add nothing
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(terms.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))

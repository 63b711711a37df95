"""Fréchet distance (FID) and kernel distance (KID) between two sets of feature vectors."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def gaussian_moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns the mean (D,) and covariance (D, D) of `features` (N, D), in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Returns the Fréchet distance |mu1 - mu2|² + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)) between two
    Gaussians; `eps` is added to both diagonals when the product is singular (dead features, few samples)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"moments of different dimension: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # sqrtm warns on singular input; the eps retry below is the remedy
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        largest = np.max(np.abs(covmean.imag))
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has a large imaginary part ({largest:.3g}); "
                             "the covariances are badly conditioned")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    # round-off can take identical distributions a hair below zero
    return float(max(value, 0.0))


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """Returns the Fréchet distance between Gaussians fitted to two feature sets (N, D) and (M, D)."""
    return frechet_distance(*gaussian_moments(real_features), *gaussian_moments(fake_features))


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # the kernel of Bińkowski et al. (2018): k(x, y) = (x·y / d + 1)³
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(real_features: np.ndarray, fake_features: np.ndarray, *, subsets: int = 100,
        subset_size: int | None = None, seed: int = 0) -> tuple[float, float]:
    """Returns the kernel inception distance as (mean, std) of the unbiased MMD² (scattered around 0, sometimes
    below, for identical distributions) over subsets of `subset_size` (default half the smaller set, at
    most 1000) vectors drawn from each side without replacement."""
    x = np.asarray(real_features, dtype=np.float64)
    y = np.asarray(fake_features, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets must be (N, D) of the same D, got {x.shape} and {y.shape}")
    size = subset_size or min(1000, min(len(x), len(y)) // 2)
    size = min(size, len(x), len(y))
    if size < 2:
        raise ValueError("KID needs at least 2 vectors on each side")
    # the three kernel matrices once; a subset's block sums are then quadratic forms of its indicator
    # vectors, which a few matrix products give for all subsets at once (fancy-indexing blocks is slower)
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    rng = np.random.default_rng(seed)
    pick_x, pick_y = np.zeros((subsets, len(x))), np.zeros((subsets, len(y)))  # (S, N), (S, M) indicators
    for s in range(subsets):
        pick_x[s, rng.choice(len(x), size, replace=False)] = 1.0
        pick_y[s, rng.choice(len(y), size, replace=False)] = 1.0
    # leaving out the diagonals (each point with itself) is what makes the estimate unbiased
    within_x = (np.einsum("si,si->s", pick_x @ kxx, pick_x) - pick_x @ np.diag(kxx)) / (size * (size - 1))
    within_y = (np.einsum("sj,sj->s", pick_y @ kyy, pick_y) - pick_y @ np.diag(kyy)) / (size * (size - 1))
    across = np.einsum("si,si->s", pick_y @ kxy.T, pick_x) / (size * size)
    values = within_x + within_y - 2.0 * across
    return float(values.mean()), float(values.std())

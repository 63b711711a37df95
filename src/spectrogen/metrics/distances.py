"""The distances between feature sets that sample-quality metrics are built on: Frechet and kernel distances,
the Inception score, and the number of statistically different bins (NDB) with its Jensen-Shannon divergence."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from scipy.special import rel_entr

NDB_MAX_SIZE = 32  # NDB's k-means runs on pixels pooled to at most this size: enough to tell modes apart


def gaussian_moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns the mean (D,) and covariance (D, D) of `features` (N, D), in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Returns the Fréchet distance between two Gaussians; `eps` is added to both diagonals of a singular product."""
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
    """Returns the kernel inception distance as (mean, std) of the unbiased MMD² (around 0, sometimes below, for
    identical distributions) over subsets of `subset_size` (default half the smaller set, at most 1000)."""
    x = np.asarray(real_features, dtype=np.float64)
    y = np.asarray(fake_features, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets must be (N, D) of the same D, got {x.shape} and {y.shape}")
    size = min(subset_size or min(1000, min(len(x), len(y)) // 2), len(x), len(y))
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


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Returns the inception score (1 to K) as (mean, std) over `splits` consecutive parts of probabilities (N, K)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (N, K), got shape {p.shape}")
    scores = []
    for part in np.array_split(p, max(1, min(splits, len(p)))):
        marginal = part.mean(axis=0, keepdims=True)
        # 0 · log 0 = 0: classes a sample gives no probability add nothing
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(terms.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


@dataclass
class NDBResult:
    """The outcome of an NDB test; `different` marks the bins that differ at level `alpha`."""

    ndb: int  # number of significantly different bins
    bins: int
    jsd: float  # Jensen-Shannon divergence (natural log, in [0, ln 2]) between the bin histograms
    real_proportions: np.ndarray  # (bins,)
    fake_proportions: np.ndarray  # (bins,)
    different: np.ndarray  # (bins,) bool

    @property
    def ndb_fraction(self) -> float:
        return self.ndb / self.bins


def default_bins(num_real: int) -> int:
    """Returns the number of k-means bins for `num_real` real samples: about 25 per bin (for the z-test), 2 to 100."""
    return int(np.clip(num_real // 25, 2, 100))


class NDBBins:
    """k-means bins fitted once on real vectors; `test` compares any generated set against them."""

    def __init__(self, real: np.ndarray, bins: int | None = None, *, seed: int = 0):
        from sklearn.cluster import KMeans  # deferred: scikit-learn is slow to import

        x = np.asarray(real, dtype=np.float32).reshape(len(real), -1)  # (N, D)
        self.bins = bins or default_bins(len(x))
        if len(x) < self.bins:
            raise ValueError(f"NDB with {self.bins} bins needs at least {self.bins} real samples, got {len(x)}")
        self.kmeans = KMeans(n_clusters=self.bins, n_init=1, random_state=seed).fit(x)
        self.real_proportions = self._proportions(self.kmeans.labels_)

    def _proportions(self, assignment: np.ndarray) -> np.ndarray:
        return np.bincount(assignment, minlength=self.bins) / len(assignment)

    def test(self, fake: np.ndarray, alpha: float = 0.05) -> NDBResult:
        """Returns the NDB result of generated vectors `fake` (M, ...) against the fitted real bins."""
        y = np.asarray(fake, dtype=np.float32).reshape(len(fake), -1)
        fake_proportions = self._proportions(self.kmeans.predict(y))
        n_real, n_fake = len(self.kmeans.labels_), len(y)
        pooled = (self.real_proportions * n_real + fake_proportions * n_fake) / (n_real + n_fake)
        standard_error = np.sqrt(pooled * (1 - pooled) * (1 / n_real + 1 / n_fake))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(standard_error > 0, (self.real_proportions - fake_proportions) / standard_error, 0.0)
        p_values = np.array([math.erfc(abs(value) / math.sqrt(2.0)) for value in z])  # two-sided
        different = p_values < alpha
        real, middle = self.real_proportions, (self.real_proportions + fake_proportions) / 2
        jsd = float(0.5 * rel_entr(real, middle).sum() + 0.5 * rel_entr(fake_proportions, middle).sum())
        return NDBResult(int(different.sum()), self.bins, jsd, real, fake_proportions, different)


def ndb_pixels(x: np.ndarray) -> np.ndarray:
    """Returns images (N, 1, H, W) average-pooled to at most 32x32 and flattened, (N, D)."""
    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    size = (min(t.shape[-2], NDB_MAX_SIZE), min(t.shape[-1], NDB_MAX_SIZE))
    return F.adaptive_avg_pool2d(t, size).flatten(1).numpy()

"""Number of statistically different bins (NDB, Richardson & Weiss 2018) and the bins' Jensen-Shannon divergence:
k-means bins of the real data holding a significantly different share of generated samples (z-test)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import rel_entr


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


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Returns the Jensen-Shannon divergence of two histograms in nats (0 for equal ones, at most ln 2)."""
    middle = (p + q) / 2
    return float(0.5 * rel_entr(p, middle).sum() + 0.5 * rel_entr(q, middle).sum())


def default_bins(num_real: int) -> int:
    """Returns the number of k-means bins for `num_real` real samples: about 25 per bin (what the z-test
    needs), 2 to 100 bins."""
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
        return NDBResult(int(different.sum()), self.bins, jensen_shannon(self.real_proportions, fake_proportions),
                         self.real_proportions, fake_proportions, different)


def ndb(real: np.ndarray, fake: np.ndarray, bins: int | None = None, *, alpha: float = 0.05,
        seed: int = 0) -> NDBResult:
    """Returns the NDB and JSD of `fake` (M, ...) against k-means bins of `real` (N, ...)."""
    return NDBBins(real, bins, seed=seed).test(fake, alpha)

"""NDB/JSD: no different bins for the same set, many for a set missing modes."""

import numpy as np

from spectrogen.metrics.ndb import NDBBins, default_bins, ndb


def mixture(rng, n, centres, weights=None):
    index = rng.choice(len(centres), size=n, p=weights)
    return centres[index] + 0.3 * rng.standard_normal((n, centres.shape[1]))


def test_identical_sets_have_no_different_bins_and_zero_divergence():
    rng = np.random.default_rng(0)
    real = mixture(rng, 400, rng.standard_normal((8, 10)) * 4)
    result = ndb(real, real, bins=8)
    assert result.ndb == 0
    assert result.jsd < 1e-12
    assert np.allclose(result.real_proportions, result.fake_proportions)


def test_samples_of_the_same_distribution_rarely_differ():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((8, 10)) * 4
    bins = NDBBins(mixture(rng, 800, centres), bins=8)
    result = bins.test(mixture(rng, 800, centres))
    assert result.ndb <= 2  # about alpha x bins by chance
    assert result.jsd < 0.01


def test_dropped_modes_are_found_bin_by_bin():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((8, 10)) * 4
    real = mixture(rng, 800, centres)
    weights = np.array([0.25] * 4 + [0.0] * 4)  # half the modes never generated
    result = ndb(real, mixture(rng, 800, centres, weights), bins=8)
    assert result.ndb >= 6
    assert result.jsd > 0.2
    assert result.ndb_fraction == result.ndb / 8


def test_default_bins_keep_about_25_real_samples_per_bin():
    assert default_bins(1000) == 40
    assert default_bins(10) == 2
    assert default_bins(10**6) == 100

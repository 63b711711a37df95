"""FID against the closed form for Gaussians; KID's unbiasedness."""

import numpy as np
import pytest

from spectrogen.metrics.frechet import fid, frechet_distance, gaussian_moments, kid


def random_covariance(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def closed_form(mu1, s1, mu2, s2):
    # d² = |mu1 - mu2|² + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½), through symmetric eigen-decompositions only
    def sqrt_psd(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    root1 = sqrt_psd(s1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(sqrt_psd(root1 @ s2 @ root1)))


def test_frechet_distance_matches_the_closed_form_for_full_covariances():
    rng = np.random.default_rng(0)
    for d in (1, 4, 16):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(closed_form(mu1, s1, mu2, s2), rel=1e-6, abs=1e-8)


def test_fid_of_samples_converges_to_the_distance_of_their_gaussians():
    rng = np.random.default_rng(1)
    d = 8
    s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    a = rng.multivariate_normal(mu1, s1, size=20000)
    b = rng.multivariate_normal(mu2, s2, size=20000)
    assert fid(a, b) == pytest.approx(closed_form(mu1, s1, mu2, s2), rel=0.05)


def test_fid_is_zero_for_one_set_and_symmetric():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((500, 6)), rng.standard_normal((400, 6)) + 1.0
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-6)


def test_fid_survives_singular_covariances():
    # fewer samples than dimensions and a dead feature: the eps fallback keeps the result finite
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((10, 32)), rng.standard_normal((10, 32))
    a[:, 0] = b[:, 0] = 0.0
    value = fid(a, b)
    assert np.isfinite(value) and value > 0


def test_gaussian_moments_are_the_mean_and_unbiased_covariance():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
    mu, sigma = gaussian_moments(x)
    assert np.allclose(mu, [3.0, 4.0])
    assert np.allclose(sigma, np.cov(x.T))


def test_kid_is_unbiased_for_samples_of_one_distribution():
    rng = np.random.default_rng(4)
    estimates = [kid(rng.standard_normal((100, 16)), rng.standard_normal((100, 16)), subsets=5, seed=s)[0]
                 for s in range(40)]
    spread = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates)) < 3 * spread  # centred on 0: some estimates are negative
    assert min(estimates) < 0 < max(estimates)


def test_kid_grows_with_the_distance_between_distributions():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((300, 16))
    values = [kid(a, rng.standard_normal((300, 16)) + shift, subsets=20)[0] for shift in (0.0, 0.3, 1.0)]
    assert values[0] < values[1] < values[2]
    mean, std = kid(a, rng.standard_normal((300, 16)) + 1.0, subsets=20)
    assert mean > 5 * std  # a clear shift is many standard deviations from 0

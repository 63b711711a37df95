"""The sample-quality metrics: FID and KID against their closed forms, the inception score's bounds, NDB's bins,
and every metric ordering real, broken (noise, shuffled pixels) and collapsed sets as it must."""

import numpy as np
import pytest

from spectrogen.metrics.distances import (NDBBins, default_bins, fid, frechet_distance, gaussian_moments,
                                          inception_score, kid)
from spectrogen.metrics.evaluate import RealReference, evaluate_samples

from synthetic import CLASSES

METRICS = ["fid", "kid", "is", "ndb", "pr", "diversity", "nn"]


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


# each of the 10 splits holds every class equally often; one prediction for everything scores 1
@pytest.mark.parametrize("probabilities, expected", [
    *[(np.eye(classes)[np.arange(10 * classes * 3) % classes], classes) for classes in (2, 5, 10)],
    (np.tile([0.0, 1.0, 0.0], (100, 1)), 1.0), (np.full((200, 4), 0.25), 1.0)])
def test_the_inception_score_runs_from_one_to_the_class_count_of_confident_even_predictions(probabilities, expected):
    mean, std = inception_score(probabilities, splits=10)
    assert mean == pytest.approx(expected, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_softer_predictions_score_between_the_bounds_and_lower_than_confident_ones():
    confident = np.eye(4)[np.random.default_rng(0).integers(0, 4, 400)]
    soft = 0.5 * confident + 0.5 / 4
    assert 1.0 < inception_score(soft)[0] < inception_score(confident)[0] <= 4.0 + 1e-9


def mixture(rng, n, centres, weights=None):
    return centres[rng.choice(len(centres), size=n, p=weights)] + 0.3 * rng.standard_normal((n, centres.shape[1]))


def test_identical_sets_have_no_different_bins_and_zero_divergence():
    rng = np.random.default_rng(0)
    real = mixture(rng, 400, rng.standard_normal((8, 10)) * 4)
    result = NDBBins(real, bins=8).test(real)
    assert result.ndb == 0
    assert result.jsd < 1e-12
    assert np.allclose(result.real_proportions, result.fake_proportions)


def test_samples_of_the_same_distribution_rarely_differ():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((8, 10)) * 4
    result = NDBBins(mixture(rng, 800, centres), bins=8).test(mixture(rng, 800, centres))
    assert result.ndb <= 2  # about alpha x bins by chance
    assert result.jsd < 0.01


def test_dropped_modes_are_found_bin_by_bin():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((8, 10)) * 4
    real = mixture(rng, 800, centres)
    weights = np.array([0.25] * 4 + [0.0] * 4)  # half the modes never generated
    result = NDBBins(real, bins=8).test(mixture(rng, 800, centres, weights))
    assert result.ndb >= 6
    assert result.jsd > 0.2
    assert result.ndb_fraction == result.ndb / 8


def test_default_bins_keep_about_25_real_samples_per_bin():
    assert default_bins(1000) == 40
    assert default_bins(10) == 2
    assert default_bins(10**6) == 100


@pytest.fixture(scope="module")
def outcomes(harmonic_set, trained_classifier):
    x, labels = harmonic_set
    rng = np.random.default_rng(0)
    real_a, real_b = x[200:340, None], x[340:480, None]  # two halves the classifier never saw
    reference = RealReference(real_a, trained_classifier, labels=labels[200:340], class_names=CLASSES,
                              train=x[:200, None])
    sets = {
        "real": real_b,
        "noise": np.clip(rng.normal(real_b.mean(), real_b.std(), real_b.shape), -1, 1).astype(np.float32),
        "shuffled": np.stack([rng.permutation(s.ravel()).reshape(s.shape) for s in real_b]),
        "collapsed": np.repeat(real_b[:1], len(real_b), axis=0),
        "copies": x[:140, None],  # the classifier's (and the "generator's") training examples
    }
    return {name: evaluate_samples(fake, reference, metrics=METRICS).metrics for name, fake in sets.items()}


def test_real_against_real_looks_like_the_data(outcomes):
    real = outcomes["real"]
    assert real["fid"] < 0.1 * min(outcomes[name]["fid"] for name in ("noise", "shuffled", "collapsed"))
    assert abs(real["kid"]) < 3 * real["kid_std"] + 1e-3  # zero within its spread
    assert real["is"] == pytest.approx(real["is_real"], rel=0.15)  # at the classifier's ceiling
    assert real["ndb_fraction"] <= 0.25
    assert real["precision"] > 0.8 and real["recall"] > 0.8
    assert real["diversity_ratio"] == pytest.approx(1.0, abs=0.1)


def test_noise_and_shuffled_pixels_are_far_and_unrecognisable(outcomes):
    real = outcomes["real"]
    for name in ("noise", "shuffled"):
        broken = outcomes[name]
        assert broken["fid"] > 10 * real["fid"]
        assert broken["kid"] > max(10 * abs(real["kid"]), 5 * broken["kid_std"])
        assert broken["is"] < 0.75 * real["is"]
        assert broken["precision"] < 0.2
        assert broken["ndb"] > real["ndb"]


def test_mode_collapse_is_flagged_by_recall_and_diversity(outcomes):
    real, collapsed = outcomes["real"], outcomes["collapsed"]
    assert collapsed["recall"] < 0.05 < 0.8 < real["recall"]
    assert collapsed["precision"] > 0.9  # the one sample it makes is a good one
    assert collapsed["diversity_ratio"] < 0.01
    assert collapsed["ms_ssim_fake"] > 0.99
    assert collapsed["is"] == pytest.approx(1.0, abs=0.01)


def test_copies_of_the_training_set_are_flagged_by_the_memorisation_check(outcomes):
    # exact copies: the distance's cancellation rounds either way and is clamped at 0, so of 140
    # copies some land on exactly 0 with any summation order
    assert outcomes["copies"]["nn_train_min"] == 0.0
    assert outcomes["copies"]["nn_copy_fraction"] == 1.0
    assert outcomes["real"]["nn_copy_fraction"] < 0.2


def test_class_ordered_sets_are_scored_as_the_mix_they_are(harmonic_set, trained_classifier):
    # a conditional model's samples come in class blocks; the score must not see one class per split
    x, labels = harmonic_set
    ordered = x[200:480][np.argsort(labels[200:480], kind="stable"), None]
    shuffled = x[200:480, None]
    reference = RealReference(shuffled, trained_classifier)
    scores = [evaluate_samples(s, reference, metrics="is").metrics["is"] for s in (ordered, shuffled)]
    assert scores[0] == pytest.approx(scores[1], rel=0.05)
    assert scores[0] > 2.0

"""Each metric orders real, broken (noise, shuffled pixels) and collapsed sample sets as it must.

Orderings and wide margins are asserted, not exact values.
"""

import numpy as np
import pytest

from spectrogen.metrics.evaluate import RealReference, evaluate_samples

from synthetic import CLASSES

METRICS = ["fid", "kid", "is", "ndb", "pr", "diversity", "nn"]


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

"""Nearest neighbours: precision and recall separate quality from coverage, and the memorisation check tells
copies of the training set from fresh samples of the same distribution."""

import numpy as np
import pytest

from spectrogen.metrics.neighbours import manifold_radii, nearest_neighbour_check, precision_recall


def test_collapse_keeps_precision_and_loses_recall_and_far_away_samples_have_none():
    rng = np.random.default_rng(0)
    precision, recall = precision_recall(rng.standard_normal((500, 8)), rng.standard_normal((500, 8)))
    assert precision > 0.8 and recall > 0.8  # one distribution
    rng = np.random.default_rng(1)
    real = rng.standard_normal((500, 8))
    precision, recall = precision_recall(real, np.repeat(real[:1], 500, axis=0))
    assert precision == 1.0
    assert recall < 0.01
    rng = np.random.default_rng(2)
    precision, _ = precision_recall(rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 20.0)
    assert precision == 0.0


def test_radii_are_distances_to_the_kth_other_point():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert np.allclose(manifold_radii(points, k=1), [1.0, 1.0, 2.0, 4.0])
    assert np.allclose(manifold_radii(points, k=2), [3.0, 2.0, 3.0, 6.0])


def draw(rng, n):
    return np.tanh(rng.standard_normal((n, 1, 16, 16))).astype(np.float32)


def test_copies_of_training_examples_are_flagged():
    rng = np.random.default_rng(0)
    train, heldout = draw(rng, 200), draw(rng, 100)
    copies = train[rng.choice(200, 80)] + 1e-4 * rng.standard_normal((80, 1, 16, 16)).astype(np.float32)
    result = nearest_neighbour_check(copies, train, heldout)
    assert result.copy_fraction == 1.0
    assert result.train_min < 1e-3
    assert result.train_heldout_ratio < 0.01  # as near as copies, where unseen data lie far


def test_fresh_samples_lie_as_far_from_training_as_held_out_data():
    rng = np.random.default_rng(1)
    train, heldout, fresh = draw(rng, 200), draw(rng, 200), draw(rng, 100)
    result = nearest_neighbour_check(fresh, train, heldout)
    assert result.copy_fraction < 0.2
    assert result.train_heldout_ratio == pytest.approx(1.0, abs=0.05)
    assert result.train_mean == pytest.approx(result.train_self_mean, rel=0.1)


def test_distances_are_rms_per_pixel_at_any_size():
    # a sample offset by a constant c from its only neighbour is at RMS distance c
    for size in (8, 32):
        train = np.zeros((2, 1, size, size), dtype=np.float32)
        train[1] += 1.0
        result = nearest_neighbour_check(train[:1] + 0.25, train)
        assert result.train_mean == pytest.approx(0.25, rel=1e-5)
        assert result.heldout_mean is None and "nn_heldout_mean" not in result.as_dict()

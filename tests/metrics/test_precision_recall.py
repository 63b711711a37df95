"""Precision and recall separate quality from coverage: collapse keeps precision, loses recall."""

import numpy as np

from spectrogen.metrics.neighbours import manifold_radii, precision_recall


def test_same_distribution_has_high_precision_and_recall():
    rng = np.random.default_rng(0)
    precision, recall = precision_recall(rng.standard_normal((500, 8)), rng.standard_normal((500, 8)))
    assert precision > 0.8 and recall > 0.8


def test_collapse_keeps_precision_and_loses_recall():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((500, 8))
    collapsed = np.repeat(real[:1], 500, axis=0)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0
    assert recall < 0.01


def test_far_away_samples_have_no_precision():
    rng = np.random.default_rng(2)
    precision, _ = precision_recall(rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 20.0)
    assert precision == 0.0


def test_radii_are_distances_to_the_kth_other_point():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert np.allclose(manifold_radii(points, k=1), [1.0, 1.0, 2.0, 4.0])
    assert np.allclose(manifold_radii(points, k=2), [3.0, 2.0, 3.0, 6.0])

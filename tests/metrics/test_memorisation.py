"""The memorisation check tells copies of the training set from fresh samples of the same distribution."""

import numpy as np
import pytest

from spectrogen.metrics.neighbours import nearest_neighbour_check


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

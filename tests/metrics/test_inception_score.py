"""The inception score's bounds: 1 for one repeated prediction, the class count for confident even ones."""

import numpy as np
import pytest

from spectrogen.metrics.inception_score import inception_score


@pytest.mark.parametrize("classes", [2, 5, 10])
def test_confident_uniform_predictions_score_the_number_of_classes(classes):
    # each of the 10 splits holds every class equally often
    probabilities = np.eye(classes)[np.arange(10 * classes * 3) % classes]
    mean, std = inception_score(probabilities, splits=10)
    assert mean == pytest.approx(classes, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("probabilities", [np.tile([0.0, 1.0, 0.0], (100, 1)), np.full((200, 4), 0.25)],
                         ids=["one_class_for_everything", "undecided"])
def test_one_prediction_for_everything_scores_one(probabilities):
    assert inception_score(probabilities)[0] == pytest.approx(1.0)


def test_softer_predictions_score_between_the_bounds_and_lower_than_confident_ones():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    confident = np.eye(4)[labels]
    soft = 0.5 * confident + 0.5 / 4
    assert 1.0 < inception_score(soft)[0] < inception_score(confident)[0] <= 4.0 + 1e-9

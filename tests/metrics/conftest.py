"""Shared synthetic data and one feature network trained once for the whole metrics test session."""

import pytest

from spectrogen.metrics.classifier_training import ClassifierOptions, train_classifier

from synthetic import CLASSES, harmonic_spectrograms


@pytest.fixture(scope="session")
def harmonic_set():
    """(x (480, 32, 32) in [-1, 1], labels (480,)): four classes of harmonic stacks."""
    return harmonic_spectrograms(480, classes=len(CLASSES), size=(32, 32), seed=0)


@pytest.fixture(scope="session")
def trained_classifier(harmonic_set):
    """A supervised feature network trained on the first 200 examples of `harmonic_set`."""
    x, labels = harmonic_set
    return train_classifier(x[:200], labels[:200], CLASSES, ClassifierOptions(epochs=4, batch_size=32))

"""The feature network: learns the classes, round-trips through its file, groups unlabelled data."""

import numpy as np
import pytest
import torch

from spectrogen.errors import CheckpointError, InputError
from spectrogen.metrics.classifier import load_classifier, save_classifier
from spectrogen.metrics.classifier_training import ClassifierOptions, train_classifier

from synthetic import harmonic_spectrograms


@pytest.fixture(scope="module")
def labelled(harmonic_set, trained_classifier):
    x, labels = harmonic_set
    return x[:200], labels[:200], trained_classifier


def test_supervised_classifier_learns_the_classes(labelled):
    x, labels, classifier = labelled
    assert classifier.kind == "supervised"
    assert classifier.heldout["count"] == 40
    assert classifier.heldout["accuracy"] >= 0.9
    # and on data it never saw
    fresh, fresh_labels = harmonic_spectrograms(100, classes=4, size=(32, 32), seed=7)
    features = classifier.extract(fresh)
    assert features.embeddings.shape == (100, 128) and features.probabilities.shape == (100, 4)
    assert np.allclose(features.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (features.probabilities.argmax(axis=1) == fresh_labels).mean() >= 0.9


def test_features_do_not_depend_on_the_batch(labelled):
    x, _, classifier = labelled
    whole = classifier.extract(x[:20], batch_size=20).embeddings
    pieces = classifier.extract(x[:20], batch_size=3).embeddings
    assert np.allclose(whole, pieces, atol=1e-5)


def test_the_file_loads_with_weights_only_and_gives_the_same_features(labelled, tmp_path):
    x, _, classifier = labelled
    path = save_classifier(classifier, tmp_path / "clf.pt")
    payload = torch.load(path, weights_only=True)  # plain tensors, numbers and strings only
    assert payload["format"] == "spectrogen-classifier" and payload["heldout"]["accuracy"] >= 0.9
    loaded = load_classifier(path)
    assert loaded.class_names == classifier.class_names and loaded.input_shape == (32, 32)
    assert loaded.normalizer == classifier.normalizer
    a, b = classifier.extract(x[:16]), loaded.extract(x[:16])
    assert np.allclose(a.embeddings, b.embeddings, atol=1e-6)
    assert np.allclose(a.probabilities, b.probabilities, atol=1e-6)


def test_other_shapes_and_broken_or_missing_files_are_refused(labelled, tmp_path):
    _, _, classifier = labelled
    with pytest.raises(InputError, match="trained on 32x32"):
        classifier.extract(np.zeros((2, 64, 64), dtype=np.float32))
    (tmp_path / "broken.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError):
        load_classifier(tmp_path / "broken.pt")
    with pytest.raises(InputError, match="not found"):
        load_classifier(tmp_path / "missing.pt")


def test_unlabelled_data_get_a_contrastive_embedding_that_groups_similar_examples():
    x, hidden = harmonic_spectrograms(120, classes=4, size=(32, 32), seed=1)
    classifier = train_classifier(x, None, [], ClassifierOptions(epochs=3, batch_size=32))
    assert classifier.kind == "contrastive"
    assert classifier.class_names[0] == "cluster_0" and len(classifier.class_names) >= 2
    # pseudo-classes are predicted on held-out data far above chance
    assert classifier.heldout["accuracy"] > 2.0 / len(classifier.class_names)
    # the nearest neighbour in the embedding mostly shares the hidden class it was never told
    features = classifier.extract(x).embeddings
    distances = np.linalg.norm(features[:, None] - features[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    agreement = (hidden[distances.argmin(axis=1)] == hidden).mean()
    assert agreement > 0.6  # chance is 0.25

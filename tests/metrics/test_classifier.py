"""The feature network: learns the classes, round-trips through its file, groups unlabelled data; or a user's own
network by local path (torch.export or TorchScript), nothing else run."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from spectrogen.errors import CheckpointError, InputError
from spectrogen.metrics.classifier import load_classifier, load_feature_network, save_classifier
from spectrogen.metrics.classifier_training import ClassifierOptions, train_classifier
from spectrogen.metrics.evaluate import evaluate_samples

from synthetic import harmonic_spectrograms


def test_supervised_classifier_learns_the_classes(trained_classifier):
    classifier = trained_classifier
    assert classifier.kind == "supervised"
    assert classifier.heldout["count"] == 40
    assert classifier.heldout["accuracy"] >= 0.9
    # and on data it never saw
    fresh, fresh_labels = harmonic_spectrograms(100, classes=4, size=(32, 32), seed=7)
    features = classifier.extract(fresh)
    assert features.embeddings.shape == (100, 128) and features.probabilities.shape == (100, 4)
    assert np.allclose(features.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (features.probabilities.argmax(axis=1) == fresh_labels).mean() >= 0.9


def test_features_depend_neither_on_the_batch_nor_on_a_save_and_weights_only_load(harmonic_set, trained_classifier,
                                                                                    tmp_path):
    x, classifier = harmonic_set[0], trained_classifier
    whole = classifier.extract(x[:20], batch_size=20).embeddings
    assert np.allclose(whole, classifier.extract(x[:20], batch_size=3).embeddings, atol=1e-5)
    path = save_classifier(classifier, tmp_path / "clf.pt")
    payload = torch.load(path, weights_only=True)  # plain tensors, numbers and strings only
    assert payload["format"] == "spectrogen-classifier" and payload["heldout"]["accuracy"] >= 0.9
    loaded = load_classifier(path)
    assert loaded.class_names == classifier.class_names and loaded.input_shape == (32, 32)
    assert loaded.normalizer == classifier.normalizer
    a, b = classifier.extract(x[:16]), loaded.extract(x[:16])
    assert np.allclose(a.embeddings, b.embeddings, atol=1e-6)
    assert np.allclose(a.probabilities, b.probabilities, atol=1e-6)


def test_other_shapes_and_files_that_are_not_feature_networks_are_refused(trained_classifier, tmp_path):
    with pytest.raises(InputError, match="trained on 32x32"):
        trained_classifier.extract(np.zeros((2, 64, 64), dtype=np.float32))
    (tmp_path / "broken.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError):
        load_classifier(tmp_path / "broken.pt")
    with pytest.raises(InputError, match="not found"):
        load_classifier(tmp_path / "missing.pt")
    torch.save(PoolingNetwork().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match="state_dict cannot be used"):
        load_feature_network(inception=tmp_path / "weights.pt")
    with pytest.raises(InputError, match="nothing is downloaded"):
        load_feature_network(inception=tmp_path / "inception_v3.pt")
    with pytest.raises(InputError, match="exactly one"):
        load_feature_network(classifier=tmp_path / "a.pt", inception=tmp_path / "b.pt2")


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
    assert (hidden[distances.argmin(axis=1)] == hidden).mean() > 0.6  # chance is 0.25


class PoolingNetwork(nn.Module):
    """Average-pools each spectrogram to 4x4 features and classifies them linearly."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        features = nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)  # (B, 16)
        return features, self.head(features)


def export(path):
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(PoolingNetwork().eval(), (torch.zeros(2, 1, 16, 16),),
                                  dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


def script(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(PoolingNetwork().eval()), str(path))
    return path


@pytest.mark.parametrize("write, name", [(export, "net.pt2"), (script, "net.ts")])
def test_an_exported_network_gives_features_and_probabilities_for_the_metrics(tmp_path, write, name):
    network = load_feature_network(inception=write(tmp_path / name))
    real = np.random.default_rng(0).uniform(-1, 1, (60, 1, 16, 16)).astype(np.float32)
    features = network.extract(real, batch_size=7)
    expected = real.reshape(60, 1, 4, 4, 4, 4).mean(axis=(3, 5)).reshape(60, 16)
    assert np.allclose(features.embeddings, expected, atol=1e-5)
    assert features.probabilities.shape == (60, 3)
    result = evaluate_samples(real[30:], real[:30], network=network, metrics="fid,is")
    assert result.metrics["fid"] >= 0 and 1.0 <= result.metrics["is"] <= 3.0

"""A user's own feature network by local path: torch.export (.pt2) or TorchScript; nothing else is run."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from spectrogen.errors import CheckpointError, InputError
from spectrogen.metrics.evaluate import evaluate_samples
from spectrogen.metrics.classifier import load_feature_network


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
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (60, 1, 16, 16)).astype(np.float32)
    features = network.extract(real, batch_size=7)
    expected = real.reshape(60, 1, 4, 4, 4, 4).mean(axis=(3, 5)).reshape(60, 16)
    assert np.allclose(features.embeddings, expected, atol=1e-5)
    assert features.probabilities.shape == (60, 3)
    result = evaluate_samples(real[30:], real[:30], network=network, metrics="fid,is")
    assert result.metrics["fid"] >= 0 and 1.0 <= result.metrics["is"] <= 3.0


def test_files_that_are_not_exported_networks_are_refused(tmp_path):
    torch.save(PoolingNetwork().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match="state_dict cannot be used"):
        load_feature_network(inception=tmp_path / "weights.pt")
    with pytest.raises(InputError, match="nothing is downloaded"):
        load_feature_network(inception=tmp_path / "inception_v3.pt")
    with pytest.raises(InputError, match="exactly one"):
        load_feature_network(classifier=tmp_path / "a.pt", inception=tmp_path / "b.pt2")

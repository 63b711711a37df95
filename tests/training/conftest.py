"""Fixtures of the training tests: a tiny data set on disk and `train` building the tiny method."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from spectrogen import api

from common import write_dataset
from training_helpers import TinyMethod, tone_features


@pytest.fixture
def tone_data(tmp_path) -> Path:
    features, labels = tone_features(48)
    return write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])


@pytest.fixture
def tiny_method(monkeypatch) -> SimpleNamespace:
    """Makes `train` build TinyMethod; returns the `faults` its next builds get and the methods `built`."""
    control = SimpleNamespace(faults={}, built=[])

    def build(config, info, device="cpu"):
        control.built.append(TinyMethod(config, info, torch.device(device), faults=dict(control.faults)))
        return control.built[-1]

    monkeypatch.setattr(api, "build_method", build)
    return control

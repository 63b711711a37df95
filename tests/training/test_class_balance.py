"""Class-balanced batches: every class drawn equally often in an epoch, a function of seed and epoch."""

from __future__ import annotations

import numpy as np
import torch

from spectrogen.config import build_config
from spectrogen.training.data_loading import TrainingData, balanced_epoch_order

from conftest import write_dataset


def test_every_class_is_drawn_equally_often_and_the_order_is_reproducible():
    labels = np.array([0] * 10 + [1] * 100 + [2] * 30)  # tenfold imbalance
    order = balanced_epoch_order(7, 3, labels)
    assert len(order) == len(labels) and order.min() >= 0 and order.max() < len(labels)
    counts = np.bincount(labels[order], minlength=3)
    assert counts.max() - counts.min() <= 1, counts
    assert len(set(order[labels[order] == 0])) == 10  # the small class: all of it, repeated
    assert len(set(order[labels[order] == 1])) == counts[1]  # the large class: a share, none twice
    assert np.array_equal(order, balanced_epoch_order(7, 3, labels))
    assert not np.array_equal(order, balanced_epoch_order(7, 4, labels))


def test_cgan_trains_on_balanced_batches_and_other_models_do_not(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array([0] * 8 + [1] * 80)
    features = rng.normal(size=(len(labels), 8, 8)).astype(np.float32)
    data = write_dataset(tmp_path / "data", features, labels, ["rare", "common"])

    def drawn(name: str, **data_settings) -> np.ndarray:
        config = build_config({"model": {"name": name, "image_size": 32},
                               "training": {"batch_size": 8},
                               "data": {"path": str(data), "validation_fraction": 0.0, **data_settings}})
        from spectrogen.data.dataset import SpectrogramDataset

        loader = TrainingData(SpectrogramDataset.open(data), config, torch.device("cpu"), validation=False)
        return np.concatenate([batch.y.numpy() for epoch in (1, 2) for batch in loader.train_batches(epoch)])

    assert abs(np.mean(drawn("cgan") == 0) - 0.5) < 0.1
    assert np.mean(drawn("cgan", class_balanced=False) == 0) < 0.2
    assert np.mean(drawn("dcgan") == 0) < 0.2

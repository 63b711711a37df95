"""Training batches: same examples on the device or streamed, orders that depend on (seed, epoch) only."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spectrogen.errors import ConfigError, InputError
from spectrogen.training.data_loading import epoch_order, open_dataset, split_indices

from conftest import tone_features, training_data as load, write_dataset


def test_batches_are_normalised_shaped_and_labelled(tone_data, tmp_path):
    data = load(tone_data, tmp_path)
    batches = list(data.train_batches(epoch=1))
    assert len(batches) == data.steps_per_epoch == 48 // 8
    for batch in batches:
        assert batch.x.shape == (8, 1, 8, 8) and batch.x.dtype == torch.float32
        assert batch.y.dtype == torch.int64 and batch.y.shape == (8,)
    everything = torch.cat([b.x for b in batches])
    assert everything.min() == -1.0 and everything.max() == 1.0  # minmax over the whole data set
    # each example's label matches its bright row (the data's class)
    features, labels = tone_features(48)
    seen = torch.cat([b.y for b in batches]).numpy()
    bright_rows = everything[:, 0].mean(dim=2).argmax(dim=1).numpy()
    assert np.array_equal(bright_rows, (np.array([1, 3, 5])[seen]))


def test_epoch_order_is_a_function_of_seed_and_epoch_and_covers_every_example():
    first, again, other_epoch = epoch_order(0, 3, 40), epoch_order(0, 3, 40), epoch_order(0, 4, 40)
    np.random.seed(123)  # the global generator has no say
    assert np.array_equal(first, again) and np.array_equal(first, epoch_order(0, 3, 40))
    assert not np.array_equal(first, other_epoch)
    assert sorted(first.tolist()) == list(range(40))


def test_a_resume_inside_an_epoch_sees_the_remaining_batches(tone_data, tmp_path):
    data = load(tone_data, tmp_path)
    whole = list(data.train_batches(5))
    rest = list(data.train_batches(5, start_step=4))
    assert len(rest) == len(whole) - 4
    for a, b in zip(whole[4:], rest):
        assert torch.equal(a.x, b.x)


def test_examples_are_resized_to_the_model_size(tmp_path):
    features, labels = tone_features(16, shape=(12, 20))
    folder = write_dataset(tmp_path / "wide", features, labels, ["a", "b", "c"])
    data = load(folder, tmp_path)
    batch = next(data.train_batches(1))
    assert batch.x.shape == (8, 1, 8, 8)
    assert sum("resized once" in note for note in data.notes) == 1
    assert data.description()["source_shape"] == [12, 20]


def test_validation_split_is_seeded_disjoint_and_kept_out_of_training(tone_data, tmp_path):
    data = load(tone_data, tmp_path, validation=True, **{"data.validation_fraction": 0.25})
    train_ids, validation_ids = set(data.train_indices.tolist()), set(data.validation_indices.tolist())
    assert len(validation_ids) == 12 and not train_ids & validation_ids and len(train_ids | validation_ids) == 48
    assert np.array_equal(split_indices(48, 0.25, 0)[1], data.validation_indices)
    assert sum(b.x.shape[0] for b in data.validation_batches()) == 12
    assert data.steps_per_epoch == 36 // 8


def test_augmentation_runs_on_training_batches_only(tone_data, tmp_path):
    data = load(tone_data, tmp_path, validation=True, **{"data.augment.noise_std": 0.5})
    plain = load(tone_data, tmp_path, validation=True)
    torch.manual_seed(0)
    noisy = next(data.train_batches(1)).x
    assert not torch.equal(noisy, next(plain.train_batches(1)).x)
    assert torch.equal(next(data.validation_batches()).x, next(plain.validation_batches()).x)


def test_missing_empty_and_too_small_data_sets_say_what_to_do(tmp_path):
    with pytest.raises(InputError, match="spectrogen prepare"):
        load(tmp_path / "nowhere", tmp_path)
    with pytest.raises(ConfigError, match="--data"):
        open_dataset(None)
    empty = write_dataset(tmp_path / "empty", np.zeros((1, 8, 8), np.float32))  # then emptied
    np.save(empty / "features.npy", np.zeros((0, 8, 8), np.float32))
    np.save(empty / "labels.npy", np.zeros(0, np.int64))
    (empty / "dataset.json").write_text(json.dumps({**json.loads((empty / "dataset.json").read_text()),
                                                    "shape": [0, 8, 8]}))
    with pytest.raises(InputError, match="0 examples"):
        load(empty, tmp_path)
    features, labels = tone_features(5)
    small = write_dataset(tmp_path / "small", features, labels, ["a", "b", "c"])
    with pytest.raises(InputError, match="fewer than training.batch_size=8: lower --batch-size to at most 5"):
        load(small, tmp_path)

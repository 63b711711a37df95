"""Training batches: the same examples held on the device or streamed (reading only their rows, for data larger
than memory), orders that depend on (seed, epoch) only, class-balanced batches, a share of each for every rank."""

import json

import numpy as np
import pytest
import torch

from spectrogen.errors import ConfigError, InputError
from spectrogen.training import data_loading
from spectrogen.training.data_loading import RowReader, balanced_epoch_order, epoch_order, open_dataset, split_indices
from spectrogen.training.distributed import Processes

from common import write_dataset
from training_helpers import tone_features, training_data as load


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
    seen = torch.cat([b.y for b in batches]).numpy()
    bright_rows = everything[:, 0].mean(dim=2).argmax(dim=1).numpy()
    assert np.array_equal(bright_rows, (np.array([1, 3, 5])[seen]))


def test_epoch_order_is_a_function_of_seed_and_epoch_and_covers_every_example():
    first, again, other_epoch = epoch_order(0, 3, 40), epoch_order(0, 3, 40), epoch_order(0, 4, 40)
    np.random.seed(123)  # the global generator has no say
    assert np.array_equal(first, again) and np.array_equal(first, epoch_order(0, 3, 40))
    assert not np.array_equal(first, other_epoch)
    assert sorted(first.tolist()) == list(range(40))


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

    def drawn(name: str, **settings) -> np.ndarray:
        loader = load(data, tmp_path, **{"model.name": name, "model.image_size": 32, "model.image_width": None,
                                         **settings})
        return np.concatenate([batch.y.numpy() for epoch in (1, 2) for batch in loader.train_batches(epoch)])

    assert abs(np.mean(drawn("cgan") == 0) - 0.5) < 0.1
    assert np.mean(drawn("cgan", **{"data.class_balanced": False}) == 0) < 0.2
    assert np.mean(drawn("dcgan") == 0) < 0.2


def test_row_reader_returns_the_rows_asked_for_in_their_order(tmp_path):
    features, _ = tone_features(30, shape=(6, 10))
    folder = write_dataset(tmp_path / "data", features)
    mapped = np.load(folder / "features.npy", mmap_mode="r")
    reader = RowReader(mapped)
    indices = np.array([29, 0, 7, 7, 13, 2])  # unsorted, repeated, both ends
    np.testing.assert_array_equal(reader.read(indices), features[indices])
    np.testing.assert_array_equal(reader.read_range(25, 40), features[25:])  # clipped at the end
    assert reader.read(np.array([], dtype=np.int64)).shape == (0, 6, 10)
    with pytest.raises(IndexError):
        reader.read(np.array([30]))
    # an array in memory (no file behind it) is indexed directly, with the same results
    np.testing.assert_array_equal(RowReader(features).read(indices), features[indices])


def test_streamed_epochs_never_index_the_memory_map(tone_data, tmp_path, monkeypatch):
    # indexing an np.memmap maps the touched pages into the process, and resident memory then grows
    # with the data set; the streamed path must read its rows another way
    data = load(tone_data, tmp_path, **{"data.on_device": "never"})

    def refuse(self, index):
        raise AssertionError("the memory map was indexed while streaming")

    monkeypatch.setattr(np.memmap, "__getitem__", refuse)
    seen = torch.cat([batch.x for batch in data.train_batches(epoch=1)])
    assert not data.on_device and seen.shape == (data.steps_per_epoch * 8, 1, 8, 8)


def test_a_data_set_that_fits_is_held_on_the_device_and_one_that_does_not_is_streamed_as_the_same_batches(
        tone_data, tmp_path, monkeypatch):
    held = load(tone_data, tmp_path)
    assert held.on_device and held._resident.shape == (48, 1, 8, 8)
    needed = 48 * 8 * 8 * 4  # bytes of the normalised examples
    monkeypatch.setattr(data_loading, "available_memory_bytes", lambda device: needed / data_loading.MEMORY_BUDGET)
    assert load(tone_data, tmp_path).on_device  # exactly at the budget
    # two processes on one machine hold a copy each: together they no longer fit
    assert not load(tone_data, tmp_path, Processes(rank=0, world_size=2, local_world_size=2)).on_device
    monkeypatch.setattr(data_loading, "available_memory_bytes", lambda device: needed)
    streamed = load(tone_data, tmp_path)
    assert not streamed.on_device and streamed._resident is None
    for a, b in zip(held.train_batches(3), streamed.train_batches(3)):
        # elementwise normalisation to [-1, 1], no reduction: at most an ulp or two apart on any CPU
        torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-6)
        assert torch.equal(a.y, b.y)


@pytest.mark.parametrize("on_device", ["always", "never"])
def test_ranks_share_out_each_global_batch(tone_data, tmp_path, on_device):
    whole = load(tone_data, tmp_path, **{"data.on_device": on_device, "training.batch_size": 8})
    ranks = [load(tone_data, tmp_path, Processes(rank=r, world_size=2), **{"data.on_device": on_device,
                                                                          "training.batch_size": 4})
             for r in range(2)]
    assert whole.steps_per_epoch == ranks[0].steps_per_epoch == 48 // 8
    # from step 2 on, as a resumed run would: rank 0 takes the first half of every global batch
    for batch, first, second in zip(whole.train_batches(4, 2), *(rank.train_batches(4, 2) for rank in ranks)):
        # elementwise normalisation, no reduction: the same values bit for bit however the batch is split
        assert torch.equal(batch.x, torch.cat([first.x, second.x]))
        assert torch.equal(batch.y, torch.cat([first.y, second.y]))

"""Data larger than memory: streamed batches read only their own rows; a data set that fits is held whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectrogen.training import data_loading
from spectrogen.training.distributed import Processes
from spectrogen.training.row_reader import RowReader

from conftest import tone_features, training_data as load, write_dataset


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


def test_streamed_epochs_never_index_the_memory_map(tmp_path, monkeypatch):
    # indexing an np.memmap maps the touched pages into the process, and resident memory then grows
    # with the data set; the streamed path must read its rows another way
    features, labels = tone_features(40)
    folder = write_dataset(tmp_path / "data", features, labels, ["a", "b", "c"])
    data = load(folder, tmp_path, **{"data.on_device": "never"})

    def refuse(self, index):
        raise AssertionError("the memory map was indexed while streaming")

    monkeypatch.setattr(np.memmap, "__getitem__", refuse)
    seen = torch.cat([batch.x for batch in data.train_batches(epoch=1)])
    assert not data.on_device and seen.shape == (data.steps_per_epoch * 8, 1, 8, 8)


def test_a_data_set_that_fits_is_held_on_the_device_and_one_that_does_not_is_streamed_as_the_same_batches(
        tmp_path, monkeypatch):
    features, labels = tone_features(40)
    folder = write_dataset(tmp_path / "data", features, labels, ["a", "b", "c"])
    held = load(folder, tmp_path)
    assert held.on_device and held._resident.shape == (40, 1, 8, 8)
    needed = 40 * 8 * 8 * 4  # bytes of the normalised examples
    monkeypatch.setattr(data_loading, "available_memory_bytes", lambda device: needed / data_loading.MEMORY_BUDGET)
    assert load(folder, tmp_path).on_device  # exactly at the budget
    # two processes on one machine hold a copy each: together they no longer fit
    assert not load(folder, tmp_path, Processes(rank=0, world_size=2, local_world_size=2)).on_device
    monkeypatch.setattr(data_loading, "available_memory_bytes", lambda device: needed)
    streamed = load(folder, tmp_path)
    assert not streamed.on_device and streamed._resident is None
    for a, b in zip(held.train_batches(3), streamed.train_batches(3)):
        # elementwise normalisation to [-1, 1], no reduction: at most an ulp or two apart on any CPU
        torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-6)
        assert torch.equal(a.y, b.y)


@pytest.mark.parametrize("on_device", ["always", "never"])
def test_ranks_share_out_each_global_batch(tmp_path, on_device):
    features, labels = tone_features(48)
    folder = write_dataset(tmp_path / "data", features, labels, ["a", "b", "c"])
    whole = load(folder, tmp_path, **{"data.on_device": on_device, "training.batch_size": 8})
    ranks = [load(folder, tmp_path, Processes(rank=r, world_size=2), **{"data.on_device": on_device,
                                                                       "training.batch_size": 4})
             for r in range(2)]
    assert whole.steps_per_epoch == ranks[0].steps_per_epoch == 48 // 8
    # from step 2 on, as a resumed run would: rank 0 takes the first half of every global batch
    for batch, first, second in zip(whole.train_batches(4, 2), *(rank.train_batches(4, 2) for rank in ranks)):
        # elementwise normalisation, no reduction: the same values bit for bit however the batch is split
        assert torch.equal(batch.x, torch.cat([first.x, second.x]))
        assert torch.equal(batch.y, torch.cat([first.y, second.y]))

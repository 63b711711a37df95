"""The on-disk data set: the growing .npy file, and `SpectrogramDataset.open` refusing damaged folders."""

import json
import shutil

import numpy as np
import pytest

from spectrogen.data import SpectrogramDataset, prepare
from spectrogen.data.writer import GrowingNpy, write_examples
from spectrogen.errors import InputError


def test_growing_npy_round_trips_and_memory_maps(tmp_path):
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal((n, 3, 4)).astype(np.float32) for n in (5, 0, 1, 17)]
    writer = GrowingNpy(tmp_path / "x.npy", (3, 4))
    for chunk in chunks:
        writer.append(chunk)
    writer.close()
    loaded = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert isinstance(loaded, np.memmap) and loaded.shape == (23, 3, 4)
    np.testing.assert_array_equal(loaded, np.concatenate(chunks))
    with pytest.raises(ValueError, match="rows of shape"):
        GrowingNpy(tmp_path / "y.npy", (3, 4)).append(np.zeros((1, 4, 3), np.float32))


@pytest.fixture
def dataset(tmp_path):
    src = tmp_path / "src"
    for label in ("a", "b"):
        (src / label).mkdir(parents=True)
        np.save(src / label / "x.npy", np.full((3, 4, 5), ord(label), np.float32))
    prepare(src, tmp_path / "data", quiet=True)
    return tmp_path / "data"


def test_open_gives_features_labels_and_info(dataset):
    data = SpectrogramDataset.open(dataset)
    assert len(data) == 6 and data.shape == (4, 5)
    assert list(data.labels) == [0, 0, 0, 1, 1, 1] and data.counts() == {"a": 3, "b": 3}
    np.testing.assert_array_equal(data.features[data.labels == 1], np.full((3, 4, 5), ord("b")))
    assert data.moments.count == 6 * 5  # examples x frames per frequency row
    assert data.info().shape == (1, 4, 5) and data.info().num_classes == 2
    summary = json.loads((dataset / "summary.json").read_text())
    assert summary["examples"] == 6 and summary["files_used"] == 2


def edit_metadata(**changes):
    def edit(folder):
        metadata = json.loads((folder / "dataset.json").read_text())
        (folder / "dataset.json").write_text(json.dumps({**metadata, **changes}))
    return edit


# newer formats, metadata that cannot be read and links out of the folder: tests/reliability
@pytest.mark.parametrize("damage, message", [
    (lambda folder: shutil.rmtree(folder), "not a data set folder.*spectrogen prepare"),
    (edit_metadata(format="something-else"), "not a spectrogen data set"),
    (lambda folder: (folder / "features.npy").unlink(), "features.npy: is missing"),
    (lambda folder: np.save(folder / "features.npy", np.zeros((6, 4, 6), np.float32)),
     r"features.npy: holds float32 \(6, 4, 6\).*\(6, 4, 5\)"),
    (lambda folder: np.save(folder / "labels.npy", np.array([0, 0, 0, 1, 1, 2])), "labels outside 0..1"),
    (edit_metadata(representation={"kind": "telepathy"}), "dataset.json.*representation.kind"),
], ids=["missing", "foreign", "no_features", "wrong_shape", "bad_labels", "bad_representation"])
def test_a_damaged_data_set_is_refused_naming_the_file_and_the_problem(dataset, damage, message):
    damage(dataset)
    with pytest.raises(InputError, match=message):
        SpectrogramDataset.open(dataset)


def test_examples_written_from_arrays_open_as_a_data_set(tmp_path):
    rng = np.random.default_rng(3)
    features = rng.normal(-4.0, 1.5, size=(1100, 6, 5)).astype(np.float32)  # more than one writer chunk
    labels = rng.integers(0, 3, size=1100)
    write_examples(tmp_path / "data", features, labels, ["a", "b", "c"], source="arrays in a test")
    data = SpectrogramDataset.open(tmp_path / "data")
    np.testing.assert_array_equal(np.asarray(data.features), features)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.class_names == ["a", "b", "c"] and data.representation.kind == "image"
    assert data.counts() == {name: int((labels == k).sum()) for k, name in enumerate("abc")}
    # both sides sum in float64: another summation order moves them by ~1e-14 relative on any CPU
    np.testing.assert_allclose(data.moments.mean, features.astype(np.float64).mean(axis=(0, 2)), rtol=1e-9)
    np.testing.assert_allclose(data.moments.std, features.astype(np.float64).std(axis=(0, 2)), rtol=1e-9)

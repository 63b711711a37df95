"""CSV, PNG and .npy spectrogram files: layouts, orientation and classes (bad files: tests/reliability)."""

import numpy as np
import pytest
from PIL import Image

from spectrogen.data import prepare
from spectrogen.errors import UsageError


def write_csv(path, array, delimiter=","):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, array, delimiter=delimiter, fmt="%.6f")
    return path


@pytest.fixture
def src(tmp_path):
    (tmp_path / "src").mkdir()
    return tmp_path / "src"


def test_csv_folder_is_read_with_either_delimiter_and_rows_as_frequencies(src, prepared):
    rng = np.random.default_rng(0)
    good = {name: rng.standard_normal((6, 5)) for name in ("a", "b", "c")}
    for name, array in good.items():
        write_csv(src / "type_1" / f"{name}.csv", array)
    write_csv(src / "type_2" / "d.csv", good["a"] * 2, delimiter=";")
    summary, data = prepared(src)
    assert summary.skipped == [] and data.representation.kind == "image" and data.features.shape == (4, 6, 5)
    np.testing.assert_allclose(data.features[0], good["a"], atol=1e-6)  # row 0 of the file stays row 0
    np.testing.assert_allclose(data.features[3], good["a"] * 2, atol=1e-5)
    assert data.class_names == ["type_1", "type_2"] and list(data.labels) == [0, 0, 0, 1]
    np.testing.assert_allclose(data.moments.mean, np.asarray(data.features).mean(axis=(0, 2)), atol=1e-5)


def test_csv_frequency_axis_can_be_the_columns(src, prepared):
    array = np.arange(12, dtype=float).reshape(3, 4)  # 3 time frames x 4 frequency bins
    write_csv(src / "x.csv", array)
    _, data = prepared(src, freq_axis=1)
    assert data.features.shape == (1, 4, 3)
    np.testing.assert_array_equal(data.features[0], array.T)


def test_png_is_read_as_grayscale_01_with_the_top_row_as_the_highest_frequency(src, prepared):
    pixels = np.random.default_rng(1).integers(0, 256, (8, 10), dtype=np.uint8)
    Image.fromarray(pixels).save(src / "a_gray.png")
    Image.fromarray(np.repeat(pixels[..., None], 3, axis=2)).save(src / "b_gray_as_rgb.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(src / "c_16bit.png")
    summary, data = prepared(src)
    expected = pixels[::-1].astype(np.float32) / 255  # stored row 0 = bottom row of the picture
    assert summary.skipped == [] and data.features.shape == (3, 8, 10)
    for example in data.features:
        np.testing.assert_allclose(example, expected, atol=1e-6)


def test_png_resized_to_image_size(src, prepared):
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(src / "a.png")
    _, data = prepared(src, settings={"image_size": [8, 4]})
    assert data.features.shape == (1, 8, 4)
    np.testing.assert_allclose(data.features[0], 128 / 255, atol=1e-6)


def test_npy_files_of_each_layout(src, prepared, tmp_path):
    stack = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(np.float32)
    np.save(src / "a_stack.npy", stack)
    np.save(src / "b_single.npy", stack[0].astype(np.float64))
    np.save(src / "c_channel.npy", stack[:, None])
    summary, data = prepared(src)
    assert summary.skipped == []
    np.testing.assert_allclose(data.features, np.concatenate([stack, stack[:1], stack]), atol=1e-6)
    assert [int(row) for row in np.loadtxt(tmp_path / "data" / "index.csv", delimiter=",", skiprows=1,
                                           usecols=2, dtype=str)] == [0, 1, 2, 0, 0, 1, 2]


def test_npy_with_explicit_representation_must_match_its_shape(src, prepared):
    np.save(src / "right.npy", np.zeros((2, 128, 128), np.float32))
    np.save(src / "wrong.npy", np.zeros((2, 64, 64), np.float32))
    summary, data = prepared(src, representation="specgan")
    assert summary.examples == 2 and summary.skipped[0]["file"] == "wrong.npy"
    assert data.representation.kind == "stft"  # these arrays can be turned back into audio


def test_mixed_folder_needs_kind(src, tmp_path):
    np.save(src / "a.npy", np.zeros((4, 4), np.float32))
    write_csv(src / "b.csv", np.zeros((4, 4)))
    with pytest.raises(UsageError, match="several kinds of files.*--kind"):
        prepare(src, tmp_path / "data", quiet=True)
    assert prepare(src, tmp_path / "data", kind="csv", quiet=True).examples == 1

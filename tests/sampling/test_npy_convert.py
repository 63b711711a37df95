"""`spectrogen convert`: .npy arrays to images, a file or a folder; bad arrays refused by name (also: reliability/)."""

import numpy as np
import pytest
from PIL import Image

from spectrogen.errors import InputError
from spectrogen.sampling.images import as_spectrogram_stack, load_spectrogram_file

from common import assert_refused, run_cli


def _samples(n=4, h=16, w=12, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 1, h, w)).astype(np.float32)  # (N, 1, H, W)


@pytest.mark.parametrize("shape, expected", [((3, 1, 5, 6), (3, 5, 6)), ((3, 5, 6), (3, 5, 6)),
                                             ((1, 5, 6), (1, 5, 6)), ((5, 6), (1, 5, 6))])
def test_accepted_layouts_keep_their_values(shape, expected):
    array = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    stack = as_spectrogram_stack(array)
    assert stack.shape == expected and stack.dtype == np.float32
    np.testing.assert_array_equal(stack.reshape(-1), array.reshape(-1))


@pytest.mark.parametrize("array, message", [
    (np.zeros((2, 1, 1, 4, 4)), "5 dimensions"),
    (np.zeros((0, 4, 4)), "empty"),
    (np.zeros((2, 4, 4), complex), "complex"),
    (np.array([["a", "b"]]), "not numbers"),
    (np.ones((2, 2), bool), "not numbers"),
    (np.array([[0.0, np.inf]]), "infinite"),
])
def test_rejected_arrays_name_the_file(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputError, match=message) as info:
        load_spectrogram_file(path)
    assert str(path) in str(info.value)


def test_individual_images_are_named_like_the_source_beside_it_and_the_source_is_untouched(tmp_path, capsys):
    source = tmp_path / "epoch_001.npy"
    np.save(source, _samples(n=3))
    before = source.read_bytes()
    run_cli(["convert", source], capsys, ok=True)
    folder = tmp_path / "epoch_001_images"
    assert sorted(p.name for p in folder.iterdir()) == [f"epoch_001_sample_0{i}.png" for i in (1, 2, 3)]
    assert source.read_bytes() == before


def test_grid_mode_refuses_to_overwrite_then_replaces_on_request(tmp_path, capsys):
    source = tmp_path / "epoch_002.npy"
    np.save(source, _samples(n=5))
    grid_jpeg = ["convert", source, "--mode", "grid", "--format", "jpeg"]
    run_cli([*grid_jpeg, "--quality", "80"], capsys, ok=True)
    grid = tmp_path / "epoch_002_grid.jpeg"
    assert Image.open(grid).format == "JPEG"
    stamp = grid.stat().st_mtime_ns
    code, _, err = run_cli(grid_jpeg, capsys)
    assert_refused(code, err, "--overwrite")
    assert grid.stat().st_mtime_ns == stamp
    run_cli([*grid_jpeg, "--overwrite"], capsys, ok=True)


def test_folder_conversion_skips_arrays_already_converted(tmp_path, capsys):
    np.save(tmp_path / "epoch_001.npy", _samples(n=2))
    out = tmp_path / "images"
    run_cli(["convert", tmp_path, "--batch-convert", "--mode", "grid", "--out", out], capsys, ok=True)
    stamp = (out / "epoch_001_grid.png").stat().st_mtime_ns
    np.save(tmp_path / "epoch_002.npy", _samples(n=2, seed=1))
    _, printed, _ = run_cli(["convert", tmp_path, "--mode", "grid", "--out", out], capsys, ok=True)  # no flag needed
    assert "skipped" in printed and (out / "epoch_001_grid.png").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in out.iterdir()) == ["epoch_001_grid.png", "epoch_002_grid.png"]


def test_the_folder_flag_on_a_file_is_refused(tmp_path, capsys):
    np.save(tmp_path / "a.npy", _samples(n=1))
    code, _, err = run_cli(["convert", tmp_path / "a.npy", "--batch-convert"], capsys)
    assert_refused(code, err, "needs a folder")

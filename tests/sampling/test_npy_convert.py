"""`spectrogen convert`: .npy arrays to images, one file or a folder; bad arrays are refused by name."""

import pickle

import numpy as np
import pytest
from PIL import Image

from spectrogen.cli.main import main
from spectrogen.errors import InputError
from spectrogen.sampling.arrays import as_spectrogram_stack, load_spectrogram_file


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
    (np.zeros(7), "1 dimensions"),
    (np.zeros((2, 1, 1, 4, 4)), "5 dimensions"),
    (np.zeros((2, 3, 4, 4)), "C=3"),
    (np.zeros((0, 4, 4)), "empty"),
    (np.zeros((2, 4, 4), complex), "complex"),
    (np.array([["a", "b"]]), "not numbers"),
    (np.ones((2, 2), bool), "not numbers"),
    (np.array([[0.0, np.nan]]), "NaN"),
    (np.array([[0.0, np.inf]]), "infinite"),
])
def test_rejected_arrays_name_the_file(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputError, match=message) as info:
        load_spectrogram_file(path)
    assert str(path) in str(info.value)


def test_pickled_object_arrays_are_not_unpickled(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "objects.npy"

    class Payload:
        def __reduce__(self):
            return (marker.touch, ())

    np.save(path, np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects"):
        load_spectrogram_file(path)
    assert not marker.exists()


def test_individual_images_are_named_like_the_seed_and_the_source_is_untouched(tmp_path):
    source = tmp_path / "epoch_001.npy"
    np.save(source, _samples(n=3))
    before = source.read_bytes()
    assert main(["convert", str(source)]) == 0
    folder = tmp_path / "epoch_001_images"
    assert sorted(p.name for p in folder.iterdir()) == [f"epoch_001_sample_0{i}.png" for i in (1, 2, 3)]
    assert source.read_bytes() == before


def test_grid_mode_refuses_to_overwrite_then_replaces_on_request(tmp_path, capsys):
    source = tmp_path / "epoch_002.npy"
    np.save(source, _samples(n=5))
    assert main(["convert", str(source), "--mode", "grid", "--format", "jpeg", "--quality", "80"]) == 0
    grid = tmp_path / "epoch_002_grid.jpeg"
    assert Image.open(grid).format == "JPEG"
    stamp = grid.stat().st_mtime_ns
    assert main(["convert", str(source), "--mode", "grid", "--format", "jpeg"]) == 2
    assert "--overwrite" in capsys.readouterr().err and grid.stat().st_mtime_ns == stamp
    assert main(["convert", str(source), "--mode", "grid", "--format", "jpeg", "--overwrite"]) == 0


def test_folder_conversion_reports_bad_files_converts_the_rest_and_skips_done_ones(tmp_path, capsys):
    np.save(tmp_path / "epoch_001.npy", _samples(n=2))
    np.save(tmp_path / "epoch_002.npy", _samples(n=2, seed=1))
    np.save(tmp_path / "broken.npy", np.zeros((1, 1, 1, 2, 2)))
    out = tmp_path / "images"
    assert main(["convert", str(tmp_path), "--batch-convert", "--mode", "grid", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "broken.npy" in err and "5 dimensions" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["epoch_001_grid.png", "epoch_002_grid.png"]
    np.save(tmp_path / "epoch_003.npy", _samples(n=2, seed=2))
    (tmp_path / "broken.npy").unlink()
    assert main(["convert", str(tmp_path), "--mode", "grid", "--out", str(out)]) == 0  # a folder needs no flag
    assert "skipped" in capsys.readouterr().out
    assert (out / "epoch_003_grid.png").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--colormap", "no-such-map"], "colormap"),
    (["--quality", "0"], "quality"),
    (["--batch-convert"], "needs a folder"),
])
def test_bad_options_exit_2_without_traceback(tmp_path, capsys, arguments, message):
    source = tmp_path / "a.npy"
    np.save(source, _samples(n=1))
    assert main(["convert", str(source), *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_and_foreign_files_exit_2(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nothing.npy")]) == 2
    text = tmp_path / "notes.npy"
    text.write_text("not an array")
    assert main(["convert", str(text)]) == 2
    pickled = tmp_path / "pickle.npy"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    assert main(["convert", str(pickled)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "notes.npy" in err and "pickle.npy" in err

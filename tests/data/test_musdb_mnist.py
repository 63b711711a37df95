"""MUSDB18 (HQ layout and .stem.mp4) and MNIST IDX files, written tiny by the tests."""

import gzip
import shutil
import subprocess

import numpy as np
import pytest

from spectrogen.cli.main import main
from spectrogen.data import prepare
from spectrogen.data.sources.files import read_idx
from spectrogen.errors import InputError

from common import write_tone

STEM_TONES = {"mixture": 220.0, "drums": 60.0, "bass": 110.0, "other": 880.0, "vocals": 440.0}


@pytest.fixture
def musdb_hq(tmp_path):
    root = tmp_path / "musdb18hq"
    for split, tracks in (("train", ["Artist A - Song", "Artist B - Tune"]), ("test", ["Artist C - Piece"])):
        for track in tracks:
            for stem, frequency in STEM_TONES.items():
                silent = stem == "vocals" and track == "Artist B - Tune"  # an instrumental
                write_tone(root / split / track / f"{stem}.wav", frequency, 3.0, 44100, channels=2,
                           amplitude=0.0 if silent else 0.5)
    (root / "train" / "Artist A - Song" / "bass.wav").unlink()
    return root


def test_musdb_hq_stems_are_classes_of_the_chosen_split(musdb_hq, prepared):
    summary, data = prepared(musdb_hq, stems=["vocals", "bass"])
    assert summary.kind == "musdb" and data.class_names == ["vocals", "bass"]
    # the autoencoder preset by default: 128 mels x 256 frames, 5.12 s windows (3 s tracks are padded)
    assert data.representation.kind == "mel" and data.features.shape == (2, 128, 256)
    reasons = {entry["file"]: entry["reason"] for entry in summary.skipped}
    assert reasons == {"train/Artist A - Song/bass.wav": "track has no bass.wav",
                       "train/Artist B - Tune/vocals.wav": reasons["train/Artist B - Tune/vocals.wav"]}
    assert "silent" in reasons["train/Artist B - Tune/vocals.wav"]
    assert data.counts() == {"vocals": 1, "bass": 1}


def test_musdb_test_split_and_all_stems(musdb_hq, prepared):
    _, data = prepared(musdb_hq, split="test", kind="musdb", settings={"frames": 64})
    assert data.class_names == ["mixture", "drums", "bass", "other", "vocals"]
    # 3 s at 16 kHz in windows of 64 * 320 samples: 2 full windows; the 7,040-sample tail is under half
    assert data.counts() == {stem: 2 for stem in data.class_names}
    # each stem's tone lands in its own mel band: the loudest row rises with the stem's frequency
    loudest = {stem: int(np.argmax(data.features[data.labels == k].mean(axis=(0, 2))))
               for k, stem in enumerate(data.class_names)}
    assert [loudest[stem] for stem in sorted(STEM_TONES, key=STEM_TONES.get)] == sorted(loudest.values())


def test_stem_mp4_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "musdb" / "train").mkdir(parents=True)
    (tmp_path / "musdb" / "train" / "Song.stem.mp4").write_bytes(b"\x00" * 64)
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["prepare", str(tmp_path / "musdb"), "--out", str(tmp_path / "data"), "--quiet"]) == 2
    assert "ffmpeg" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_stem_mp4_streams_are_decoded_with_ffmpeg(tmp_path, prepared):
    tones = [write_tone(tmp_path / f"{stem}.wav", f, 3.0, 44100) for stem, f in STEM_TONES.items()]
    target = tmp_path / "musdb" / "train" / "Song.stem.mp4"
    target.parent.mkdir(parents=True)
    inputs = [arg for path in tones for arg in ("-i", str(path))]
    maps = [arg for k in range(len(tones)) for arg in ("-map", str(k))]
    subprocess.run(["ffmpeg", "-v", "error", *inputs, *maps, "-c:a", "aac", str(target)], check=True)
    _, data = prepared(tmp_path / "musdb", stems=["bass", "vocals"], settings={"frames": 64})
    bass, vocals = (data.features[data.labels == k].mean(axis=(0, 2)) for k in range(2))
    assert np.argmax(bass) < np.argmax(vocals)


def write_idx(path, array, compress=False):
    """Writes `array` (uint8) as an IDX file, as MNIST ships them."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes() + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_files_gzipped_or_not(tmp_path, prepared, compress):
    images = np.random.default_rng(0).integers(0, 256, (12, 28, 28), dtype=np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    suffix = ".gz" if compress else ""
    for split, count in (("train", 12), ("t10k", 5)):
        write_idx(tmp_path / "mnist" / f"{split}-images-idx3-ubyte{suffix}", images[:count], compress)
        write_idx(tmp_path / "mnist" / f"{split}-labels-idx1-ubyte{suffix}", labels[:count], compress)
    summary, data = prepared(tmp_path / "mnist")
    assert summary.kind == "mnist" and data.class_names == [str(d) for d in range(10)]
    assert data.features.shape == (12, 28, 28) and data.representation.kind == "image"
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_allclose(data.features, images[:, ::-1] / 255.0, atol=1e-6)  # bottom row first
    assert len(prepared(tmp_path / "mnist", "test", split="test", kind="mnist")[1]) == 5
    (tmp_path / "mnist" / f"t10k-labels-idx1-ubyte{suffix}").unlink()
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte"):  # the missing file is named
        prepare(tmp_path / "mnist", tmp_path / "none", split="test", kind="mnist", quiet=True)


def test_idx_reader_checks_the_header(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((2, 3, 4), np.uint8))
    assert read_idx(path).shape == (2, 3, 4)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(InputError, match="IDX header says shape"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 zip file")
    with pytest.raises(InputError, match="bad magic"):
        read_idx(path)

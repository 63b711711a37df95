"""`prepare` on folders of recordings: windows, features, moments, skipped files, untouched sources."""

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.data import pipelines, prepare
from spectrogen.errors import InputError
from spectrogen.spectral.representation import Representation
from spectrogen.training.csv_log import CsvLog

from common import tone, tree_digest, write_tone

SPECGAN = Representation.preset("specgan")
WINDOW = SPECGAN.num_samples  # 16384


def test_audio_folder_becomes_a_data_set_and_bad_files_are_named(audio_folder, tmp_path, prepared):
    before = tree_digest(audio_folder)
    summary, data = prepared(audio_folder)
    assert tree_digest(audio_folder) == before  # the source is never modified

    skipped = {entry["file"]: entry["reason"] for entry in summary.skipped}
    assert set(skipped) == {"high/empty.wav", "high/silence.wav", "low/notes.wav", "low/corrupt.wav"}
    assert "0 bytes" in skipped["high/empty.wav"]
    assert "silent" in skipped["high/silence.wav"]
    assert "not an audio file" in skipped["low/notes.wav"]
    # a_16k (2.1 s) gives 2 full windows, the others (1.1-1.5 s) one each; tails under half are dropped
    assert summary.examples == 5 and summary.files_used == 4 and summary.files_found == 8
    assert summary.examples_per_class == {"high": 2, "low": 3}
    assert data.class_names == ["high", "low"]
    assert data.features.shape == (5, 128, 128) and isinstance(data.features, np.memmap)
    assert data.info().shape == (1, 128, 128) and data.info().class_names == ["high", "low"]
    rows = CsvLog(tmp_path / "data" / "index.csv").rows()
    assert [row["source"] for row in rows] == ["high/c_22k.ogg", "high/d_48k.wav", "low/a_16k.wav",
                                               "low/a_16k.wav", "low/b_44k_stereo.flac"]
    assert [float(row["offset_s"]) for row in rows][2:4] == [0.0, pytest.approx(WINDOW / 16000)]
    assert list(data.labels) == [data.class_names.index(row["class"]) for row in rows]


def test_features_and_moments_are_those_of_the_representation_on_each_window_at_16k(audio_folder, prepared):
    _, data = prepared(audio_folder)
    audio, _ = soundfile.read(audio_folder / "low" / "a_16k.wav", dtype="float32")  # 16-bit PCM as decoded
    expected = SPECGAN.features(torch.from_numpy(np.stack([audio[:WINDOW], audio[WINDOW:2 * WINDOW]]))).numpy()
    # compared as magnitudes: an FFT's round-off (a few 1e-7 of the peak; prepare batches windows its own
    # way) grows to tenths in the log of bins near 1e-6
    magnitude, expected_magnitude = np.exp(data.features[2:4]), np.exp(expected)
    np.testing.assert_allclose(magnitude, expected_magnitude, rtol=1e-5, atol=1e-5 * expected_magnitude.max())
    # b_44k_stereo.flac: 440 Hz at 44.1 kHz, channels of amplitude 0.5 and 0.25 -> mono 0.375
    reference = SPECGAN.features(torch.from_numpy(tone(440.0, WINDOW / 16000, 16000, amplitude=0.375))[None])
    magnitude, expected = np.exp(data.features[4]), np.exp(reference[0].numpy())
    assert np.abs(magnitude - expected).max() < 0.02 * expected.max()
    values = np.asarray(data.features, dtype=np.float64)  # (N, F, T)
    np.testing.assert_allclose(data.moments.mean, values.mean(axis=(0, 2)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(data.moments.std, values.std(axis=(0, 2)), rtol=1e-6, atol=1e-6)
    assert data.moments.min == pytest.approx(values.min()) and data.moments.max == pytest.approx(values.max())


def test_batching_does_not_change_the_features(audio_folder, prepared, monkeypatch):
    batched = prepared(audio_folder, "batched")[1].features
    monkeypatch.setattr(pipelines, "BATCH_WINDOWS", 1)
    single = prepared(audio_folder, "single")[1].features
    # compared as magnitudes, as above: FFTs of other batch sizes may round otherwise
    np.testing.assert_allclose(np.exp(batched), np.exp(single), rtol=1e-5, atol=1e-5 * np.exp(single).max())


def test_window_hop_overlaps_windows_and_short_rule_decides_the_tail(tmp_path):
    write_tone(tmp_path / "src" / "long.wav", 300.0, 3.0, 16000)  # 48000 samples
    summary = prepare(tmp_path / "src", tmp_path / "pad", window_hop=0.5, quiet=True)
    hop = 8000
    # starts 0, 8000, ..., kept while at least half a window (8192 samples) lies inside
    expected = [s for s in range(0, 48000, hop) if 48000 - s >= WINDOW / 2]
    assert summary.windows_short == len(range(0, 48000, hop)) - len(expected)
    prepare(tmp_path / "src", tmp_path / "drop", window_hop=0.5, short="drop", quiet=True)
    starts = {name: [round(float(row["offset_s"]) * 16000) for row in CsvLog(tmp_path / name / "index.csv").rows()]
              for name in ("pad", "drop")}
    assert starts["pad"] == expected and starts["drop"] == [s for s in expected if s + WINDOW <= 48000]


def test_silence_threshold_is_configurable(tmp_path):
    write_tone(tmp_path / "src" / "quiet.wav", 300.0, 1.1, 16000, amplitude=0.001)  # about -63 dBFS
    with pytest.raises(InputError, match="silent"):
        prepare(tmp_path / "src", tmp_path / "a", quiet=True)
    assert prepare(tmp_path / "src", tmp_path / "b", silence_db=-70.0, quiet=True).examples == 1
    assert prepare(tmp_path / "src", tmp_path / "c", silence_db=None, quiet=True).examples == 1
    assert not (tmp_path / "a").exists()


def test_limit_stops_after_that_many_examples_and_an_unlabelled_folder_has_no_class_names(tmp_path, prepared):
    summary, data = prepared(write_tone(tmp_path / "src" / "long.wav", 300.0, 6.0, 16000).parent, limit=3)
    assert summary.examples == 3 and summary.limit_reached and len(data) == 3
    assert data.class_names == [] and list(data.labels) == [0, 0, 0] and data.info().num_classes == 0


def test_files_directly_in_a_class_folder_root_are_reported(tmp_path):
    write_tone(tmp_path / "src" / "a" / "x.wav", 300.0, 1.1, 16000)
    write_tone(tmp_path / "src" / "stray.wav", 300.0, 1.1, 16000)
    summary = prepare(tmp_path / "src", tmp_path / "data", quiet=True)
    assert summary.examples_per_class == {"a": 1}
    assert summary.skipped[0]["file"] == "stray.wav" and "outside the class" in summary.skipped[0]["reason"]


def test_mel_representation_and_settings(tmp_path, prepared):
    source = write_tone(tmp_path / "src" / "x.wav", 300.0, 2.0, 22050).parent
    _, data = prepared(source, representation="mel", settings={"n_mels": 40, "frames": 64})
    assert data.representation.kind == "mel" and data.representation.n_mels == 40
    assert data.features.shape[1:] == (40, 64)
    assert len(data) == int(2.0 * 22050 // (64 * 256)) + 1  # full windows plus a tail over half


def test_a_crash_keeps_the_previous_data_set_and_leaves_no_half_one(tmp_path, monkeypatch):
    write_tone(tmp_path / "src" / "x.wav", 300.0, 3.0, 16000)
    prepare(tmp_path / "src", tmp_path / "data", quiet=True)
    before = tree_digest(tmp_path / "data")

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("spectrogen.data.writer.DatasetWriter.finish", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        prepare(tmp_path / "src", tmp_path / "data", overwrite=True, quiet=True)
    assert tree_digest(tmp_path / "data") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "src"]

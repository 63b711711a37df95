"""Decoding threads: the data set, the summary and the progress are those of a plain sequential loop."""

import importlib
import json

import numpy as np
import pytest
import soundfile

from spectrogen.data import pipelines, prepare

RATES = (16000, 22050, 44100, 48000)
PREPARE_MODULE = importlib.import_module("spectrogen.data.prepare")  # the package exports the function


def _recordings(root):
    """Recordings of mixed rates, channels, lengths and sample formats, and a few bad files."""
    rng = np.random.default_rng(7)
    for k in range(14):
        rate = RATES[k % len(RATES)]
        seconds = (0.3, 1.1, 1.7, 2.4, 3.2)[k % 5]  # 0.3 s is under half a window: skipped as too short
        t = np.arange(int(seconds * rate)) / rate
        mono = 0.4 * np.sin(2 * np.pi * (150 + 40 * k) * t) + 0.05 * rng.standard_normal(len(t))
        channels = 1 + k % 3
        audio = np.stack([mono * (1 - 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)
        subtype = ("PCM_16", "FLOAT", "PCM_24")[k % 3]
        folder = root / ("low" if k % 2 else "high")
        folder.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(folder / f"{k:02d}.wav"), audio, rate, subtype=subtype)
    soundfile.write(str(root / "low" / "silent.wav"), np.zeros(40000, np.float32), 16000)
    broken = np.full(30000, 0.1, np.float32)
    broken[12345] = np.nan
    soundfile.write(str(root / "high" / "nan.wav"), broken, 16000, subtype="FLOAT")
    (root / "high" / "empty.wav").write_bytes(b"")
    (root / "low" / "text.wav").write_text("not audio\n")
    return root


def _sequential(items, produce, **bounds):
    """A plain loop in the calling thread, what the threads must reproduce."""
    for item in items:
        yield from produce(item)


def _contents(folder):
    """Returns every output file's bytes, with the run's time stamp and duration taken out."""
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    metadata = json.loads(files.pop("dataset.json"))
    metadata.pop("created")
    summary = json.loads(files.pop("summary.json"))
    summary.pop("seconds")
    summary.pop("out")
    return files, metadata, summary


@pytest.mark.parametrize("kwargs", [{}, {"window_hop": 0.4}, {"limit": 5}])
def test_decoding_threads_give_the_data_set_of_a_sequential_loop(tmp_path, monkeypatch, kwargs):
    source = _recordings(tmp_path / "src")
    with monkeypatch.context() as patch:
        patch.setattr(pipelines, "read_ahead", _sequential)
        prepare(source, tmp_path / "plain", quiet=True, **kwargs)
    runs = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(pipelines, "DECODE_WORKERS", threads)
        prepare(source, tmp_path / f"t{threads}", quiet=True, **kwargs)
        runs[threads] = _contents(tmp_path / f"t{threads}")
    files, metadata, summary = _contents(tmp_path / "plain")
    assert {"features.npy", "labels.npy", "index.csv"} <= set(files)
    for threads, (got_files, got_metadata, got_summary) in runs.items():
        assert got_files == files, threads  # byte for byte
        assert got_metadata == metadata and got_summary == summary, threads


def test_skipped_files_and_progress_are_reported_with_threads(tmp_path, monkeypatch, capsys):
    source = _recordings(tmp_path / "src")
    monkeypatch.setattr(pipelines, "DECODE_WORKERS", 3)
    monkeypatch.setattr(PREPARE_MODULE, "show_progress", lambda quiet: True)
    summary = prepare(source, tmp_path / "data")
    skipped = {entry["file"]: entry["reason"] for entry in summary.skipped}
    assert "silent" in skipped["low/silent.wav"]
    assert "NaN" in skipped["high/nan.wav"]
    assert "0 bytes" in skipped["high/empty.wav"]
    assert "not an audio file" in skipped["low/text.wav"]
    assert sum("too short" in reason for reason in skipped.values()) == 3  # files 00, 05, 10
    assert summary.files_found == 18 and summary.files_used == 11 and summary.examples > 11
    assert "18/18" in capsys.readouterr().err  # the bar advanced once per file, bad ones included

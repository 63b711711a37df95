"""Decoding threads or worker processes give the data set, summary and progress of a plain sequential loop."""

import importlib
import json

import pytest

from spectrogen.data import pipelines, prepare

PREPARE_MODULE = importlib.import_module("spectrogen.data.prepare")  # the package exports the function


def _sequential(items, produce, **bounds):  # a plain loop in the calling thread
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
def test_threads_and_processes_give_the_data_set_of_a_sequential_loop(mixed_recordings, tmp_path, monkeypatch, kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(pipelines, "read_ahead", _sequential)
        prepare(mixed_recordings, tmp_path / "plain", quiet=True, **kwargs)
    expected = _contents(tmp_path / "plain")
    assert {"features.npy", "labels.npy", "index.csv"} <= set(expected[0])
    for threads in (1, 2, 3):
        monkeypatch.setattr(pipelines, "DECODE_WORKERS", threads)
        prepare(mixed_recordings, tmp_path / f"t{threads}", quiet=True, **kwargs)
        assert _contents(tmp_path / f"t{threads}") == expected, threads  # byte for byte
    prepare(mixed_recordings, tmp_path / "processes", workers=2, quiet=True, **kwargs)
    assert _contents(tmp_path / "processes") == expected


def test_skipped_files_and_progress_are_reported_with_threads(mixed_recordings, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipelines, "DECODE_WORKERS", 3)
    monkeypatch.setattr(PREPARE_MODULE, "show_progress", lambda quiet: True)
    summary = prepare(mixed_recordings, tmp_path / "data")
    skipped = {entry["file"]: entry["reason"] for entry in summary.skipped}
    assert "silent" in skipped["low/silent.wav"]
    assert "NaN" in skipped["high/nan.wav"]
    assert "0 bytes" in skipped["high/empty.wav"]
    assert "not an audio file" in skipped["low/text.wav"]
    assert sum("too short" in reason for reason in skipped.values()) == 3  # files 00, 05, 10
    assert summary.files_found == 18 and summary.files_used == 11 and summary.examples > 11
    assert "18/18" in capsys.readouterr().err  # the bar advanced once per file, bad ones included

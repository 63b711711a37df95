"""One-shots become one example each, from their onset; long recordings are windowed, capped per file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from spectrogen.data import prepare
from spectrogen.data.windowing import OnsetSlicer, WindowCounts, onset_sample
from spectrogen.errors import InputError

RATE = 16000


def write(path, audio):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio.astype(np.float32), RATE)


def click(seconds=0.05, delay=0.0):
    rng = np.random.default_rng(1)
    body = rng.normal(0, 0.3, int(seconds * RATE)) * np.exp(-np.linspace(0, 8, int(seconds * RATE)))
    return np.concatenate([np.zeros(int(delay * RATE)), body])


def tone(seconds, frequency=440.0, delay=0.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return np.concatenate([np.zeros(int(delay * RATE)), 0.4 * np.sin(2 * np.pi * frequency * t)])


def test_a_click_and_a_short_tone_each_become_one_example(tmp_path):
    source = tmp_path / "pack"
    write(source / "kick" / "click.wav", click(0.05))
    write(source / "kick" / "click2.wav", click(0.08, delay=0.01))
    write(source / "tone" / "a.wav", tone(0.3))
    write(source / "tone" / "b.wav", tone(0.3, 660.0))
    summary = prepare(source, tmp_path / "data", quiet=True)
    assert summary.slicing == "onset" and "one-shots" in summary.slicing_reason
    assert summary.examples == 4 and summary.skipped == []
    assert summary.files_per_class == {"kick": 2, "tone": 2} == summary.examples_per_class
    stored = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert stored["source"]["options"]["slicing"] == "onset"
    assert "slicing: onset" in summary.format() and "kick 2 -> 2" in summary.format()


def test_the_example_starts_at_the_onset_and_is_padded_at_the_end():
    window = RATE  # 1 s
    audio = tone(0.3, delay=0.25)  # silence, then 0.3 s of sound
    counts = WindowCounts()
    blocks = list(OnsetSlicer(window, RATE, silence_db=-60).windows([audio[:3000], audio[3000:]], counts))
    assert counts.kept == 1 and len(blocks) == 1
    start = int(blocks[0].starts[0])
    assert abs(start - int(0.25 * RATE)) <= int(0.006 * RATE)  # the 5-ms lead, one frame's slack
    example = blocks[0].audio[0]
    assert np.abs(example[: int(0.25 * RATE) - start]).max() == 0.0  # nothing before the onset but the lead
    assert np.abs(example[int(0.31 * RATE):]).max() == 0.0  # zero-padded after the sound
    assert np.allclose(example[: int(0.3 * RATE)], audio[start: start + int(0.3 * RATE)])


def test_onset_of_a_sound_at_the_very_start_is_zero():
    assert onset_sample(tone(0.2), RATE) == 0


def test_a_long_file_is_cut_at_its_onset_and_counts_once(tmp_path):
    source = tmp_path / "pack"
    for index in range(5):
        write(source / "hit" / f"h{index}.wav", click(0.1 + 0.02 * index))
    write(source / "hit" / "cymbal.wav", tone(6.0, 3000.0))  # one long ringing file
    summary = prepare(source, tmp_path / "data", quiet=True)
    assert summary.slicing == "onset"
    assert summary.examples_per_class == {"hit": 6}


def test_long_recordings_are_windowed_and_capped_per_file(tmp_path):
    source = tmp_path / "loops"
    write(source / "a" / "long.wav", tone(10.0))
    write(source / "a" / "other.wav", tone(3.0, 220.0))
    summary = prepare(source, tmp_path / "all", quiet=True)
    assert summary.slicing == "windows" and "longer than a window" in summary.slicing_reason
    assert summary.examples == 10 + 3  # 1.02-s windows, each tail more than half a window, padded
    capped = prepare(source, tmp_path / "capped", quiet=True, max_windows_per_file=2)
    assert capped.examples == 4
    assert capped.files_per_class == {"a": 2}


def test_slicing_can_be_chosen_explicitly(tmp_path):
    source = tmp_path / "loops"
    write(source / "long.wav", tone(5.0))
    assert prepare(source, tmp_path / "onset", quiet=True, slicing="onset").examples == 1
    short = tmp_path / "shots"
    write(short / "click.wav", click(0.05))
    with pytest.raises(InputError, match="too short"):  # windows of a 0.05-s click: none is half full
        prepare(short, tmp_path / "w", quiet=True, slicing="windows")

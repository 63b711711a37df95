"""Windowing: the slices at each hop, streamed or whole, the partial tail and silent windows; one-shots become one
example each, from their onset; long recordings are windowed, capped per file."""

import json

import numpy as np
import pytest
import soundfile

from spectrogen.data import prepare
from spectrogen.data.windowing import OnsetSlicer, WindowCounts, Windower, onset_sample, rms_dbfs
from spectrogen.errors import InputError

RATE = 16000


def cut(audio, window, hop, short="pad", silence_db=None, chunk=None):
    counts = WindowCounts()
    chunks = [audio] if chunk is None else [audio[i:i + chunk] for i in range(0, len(audio), chunk)]
    blocks = list(Windower(window, hop, short, silence_db).windows(chunks, counts))
    if not blocks:
        return np.zeros((0, window), np.float32), np.zeros(0, np.int64), counts
    return np.concatenate([b.audio for b in blocks]), np.concatenate([b.starts for b in blocks]), counts


@pytest.mark.parametrize("length, window, hop, short, starts, dropped", [
    (100, 20, 15, "drop", [0, 15, 30, 45, 60, 75], 1),  # the window at 90 runs past the end
    (150, 100, 100, "pad", [0, 100], 0),  # 50 of 100 samples inside: kept, zero-filled
    (149, 100, 100, "pad", [0], 1),  # 49 inside: dropped
    (60, 100, 100, "pad", [0], 0),
    (40, 100, 50, "pad", [], 1),  # shorter than half a window: nothing
    (99, 100, 100, "drop", [], 1),  # drop refuses any partial window
])
def test_windows_are_the_slices_at_each_hop_and_a_partial_one_is_zero_filled_when_half_inside(length, window, hop,
                                                                                              short, starts, dropped):
    audio = np.arange(1, length + 1, dtype=np.float32)
    windows, kept, counts = cut(audio, window, hop, short=short)
    assert list(kept) == starts and (counts.kept, counts.short, counts.samples) == (len(starts), dropped, length)
    for values, start in zip(windows, kept):
        np.testing.assert_array_equal(values, np.pad(audio[start:start + window], (0, max(0, start + window - length))))


@pytest.mark.parametrize("chunk", [1, 7, 33, 64, 1000])
def test_streamed_chunks_give_the_same_windows_as_one_array(chunk):
    audio = np.random.default_rng(0).standard_normal(523).astype(np.float32)
    whole = cut(audio, 64, 24)
    streamed = cut(audio, 64, 24, chunk=chunk)
    np.testing.assert_array_equal(whole[0], streamed[0])
    np.testing.assert_array_equal(whole[1], streamed[1])


def test_silent_windows_are_dropped_by_rms_of_their_real_samples():
    loud = 0.1 * np.random.default_rng(1).standard_normal(300).astype(np.float32)  # about -20 dBFS
    audio = np.concatenate([loud, np.zeros(300, np.float32), loud[:60]])
    _, starts, counts = cut(audio, 100, 100, silence_db=-60.0)
    assert list(starts) == [0, 100, 200, 600]  # the padded tail is judged on its 60 real samples
    assert counts.silent == 3 and counts.kept == 4


def test_rms_dbfs_of_full_scale_signals():
    t = np.arange(16000) / 16000
    square = np.sign(np.sin(2 * np.pi * 50 * t + 0.1)).astype(np.float32)[None]
    sine = np.sin(2 * np.pi * 50 * t).astype(np.float32)[None]
    assert rms_dbfs(square)[0] == pytest.approx(0.0, abs=1e-3)
    assert rms_dbfs(sine)[0] == pytest.approx(-3.01, abs=0.01)
    assert rms_dbfs(np.zeros((1, 10), np.float32))[0] == -np.inf


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
    assert json.loads((tmp_path / "data" / "dataset.json").read_text())["source"]["options"]["slicing"] == "onset"
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
    assert onset_sample(tone(0.2), RATE) == 0  # a sound at the very start


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

import numpy as np
import pytest

from spectrogen.data.windowing import WindowCounts, Windower, rms_dbfs


def cut(audio, window, hop, short="pad", silence_db=None, chunk=None):
    counts = WindowCounts()
    chunks = [audio] if chunk is None else [audio[i:i + chunk] for i in range(0, len(audio), chunk)]
    blocks = list(Windower(window, hop, short, silence_db).windows(chunks, counts))
    if not blocks:
        return np.zeros((0, window), np.float32), np.zeros(0, np.int64), counts
    return np.concatenate([b.audio for b in blocks]), np.concatenate([b.starts for b in blocks]), counts


def test_windows_are_the_slices_at_each_hop():
    audio = np.arange(100, dtype=np.float32)
    windows, starts, counts = cut(audio, 20, 15, short="drop")
    assert list(starts) == [0, 15, 30, 45, 60, 75]
    for window, start in zip(windows, starts):
        np.testing.assert_array_equal(window, audio[start:start + 20])
    assert counts.kept == 6 and counts.short == 1  # the window at 90 runs past the end


@pytest.mark.parametrize("chunk", [1, 7, 33, 64, 1000])
def test_streamed_chunks_give_the_same_windows_as_one_array(chunk):
    audio = np.random.default_rng(0).standard_normal(523).astype(np.float32)
    whole = cut(audio, 64, 24)
    streamed = cut(audio, 64, 24, chunk=chunk)
    np.testing.assert_array_equal(whole[0], streamed[0])
    np.testing.assert_array_equal(whole[1], streamed[1])


def test_pad_keeps_a_window_at_least_half_inside_and_zero_fills_it():
    audio = np.ones(150, dtype=np.float32)
    windows, starts, counts = cut(audio, 100, 100)
    assert list(starts) == [0, 100]  # 50 of 100 samples inside: kept
    np.testing.assert_array_equal(windows[1], np.r_[np.ones(50), np.zeros(50)])
    _, starts, counts = cut(np.ones(149, dtype=np.float32), 100, 100)
    assert list(starts) == [0] and counts.short == 1  # 49 inside: dropped


def test_recording_shorter_than_half_a_window_makes_nothing_and_drop_refuses_any_partial():
    _, starts, counts = cut(np.ones(40, dtype=np.float32), 100, 50)
    assert len(starts) == 0 and counts.short == 1 and counts.samples == 40
    _, starts, counts = cut(np.ones(99, dtype=np.float32), 100, 100, short="drop")
    assert len(starts) == 0 and counts.short == 1
    windows, starts, _ = cut(np.ones(60, dtype=np.float32), 100, 100, short="pad")
    assert list(starts) == [0] and windows[0, 59] == 1 and windows[0, 60] == 0


def test_silent_windows_are_dropped_by_rms_of_their_real_samples():
    rng = np.random.default_rng(1)
    loud = 0.1 * rng.standard_normal(300).astype(np.float32)  # about -20 dBFS
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

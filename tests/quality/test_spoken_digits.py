"""The spoken-digits builder of the quality benchmark (benchmarks/quality/spoken_digits.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quality"))
import spoken_digits  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (`apt-get install espeak-ng`; .ci/run does)")


def test_the_split_is_by_voice_and_every_voice_says_every_digit():
    clips = spoken_digits.plan(renditions=2, seed=0)
    voices = {split: {clip.voice for clip in clips if clip.split == split} for split in ("train", "test")}
    assert voices["train"] and voices["test"] and not voices["train"] & voices["test"]
    timbres = {split: {clip.variant for clip in clips if clip.split == split} for split in ("train", "test")}
    assert not timbres["train"] & timbres["test"]  # a test timbre is never heard in training
    for split, names in voices.items():
        for voice in names:
            said = sorted(clip.digit for clip in clips if clip.voice == voice and clip.split == split)
            assert said == sorted(list(range(10)) * 2)
    assert len(clips) >= 2000
    assert clips == spoken_digits.plan(renditions=2, seed=0)  # fixed by the seed
    assert len({clip.path for clip in clips}) == len(clips)


@needs_espeak
def test_a_clip_is_one_second_deterministic_and_the_word_stands_out_of_the_noise():
    clip = spoken_digits.plan(renditions=1, seed=3)[7]
    audio = spoken_digits.render(clip)
    assert audio.shape == (spoken_digits.CLIP,) and audio.dtype == np.float32
    assert np.abs(audio).max() <= 1.0
    np.testing.assert_array_equal(audio, spoken_digits.render(clip))
    frames = audio[: len(audio) // 400 * 400].reshape(-1, 400)
    energy = np.sort((frames ** 2).mean(axis=1))
    loud, quiet = energy[-5:].mean(), energy[:5].mean()
    assert 10 * np.log10(loud / quiet) > clip.snr_db - 3  # the word is well above the noise floor


@needs_espeak
def test_build_writes_class_folders_and_keeps_an_identical_earlier_build(tmp_path, monkeypatch):
    monkeypatch.setattr(spoken_digits, "ACCENTS", ("en-us",))
    monkeypatch.setattr(spoken_digits, "TRAIN_VARIANTS", ("m1", "f2"))
    monkeypatch.setattr(spoken_digits, "TEST_VARIANTS", ("m6",))
    summary = spoken_digits.build(tmp_path / "speech", renditions=1, seed=0, workers=2, quiet=True)
    assert summary["clips"] == {"train": 20, "test": 10}
    folders = sorted(p.name for p in (tmp_path / "speech" / "train").iterdir())
    assert folders == [f"{k}_{name}" for k, name in enumerate(spoken_digits.DIGITS)]
    wav = next((tmp_path / "speech" / "test" / "7_seven").glob("*.wav"))
    info = soundfile.info(wav)
    assert info.samplerate == 16000 and info.frames == 16000
    before = wav.stat().st_mtime_ns
    assert spoken_digits.build(tmp_path / "speech", renditions=1, seed=0, quiet=True) == summary
    assert wav.stat().st_mtime_ns == before  # kept, not rewritten
    with pytest.raises(SystemExit, match="other parameters"):
        spoken_digits.build(tmp_path / "speech", renditions=2, seed=0, quiet=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not empty"):
        spoken_digits.build(tmp_path / "other", renditions=1, quiet=True)
    assert (tmp_path / "other" / "mine.txt").read_text() == "keep me"

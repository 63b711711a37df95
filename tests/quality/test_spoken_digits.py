"""The spoken-digits builder of the quality benchmark (benchmarks/quality/spoken_digits.py)."""

import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quality"))
import spoken_digits  # noqa: E402


def test_the_split_is_by_voice_and_every_voice_says_every_digit():
    clips = spoken_digits.plan(renditions=2, seed=0)
    voices = {split: {clip.voice for clip in clips if clip.split == split} for split in ("train", "test")}
    assert voices["train"] and voices["test"] and not voices["train"] & voices["test"]
    timbres = {split: {clip.variant for clip in clips if clip.split == split} for split in ("train", "test")}
    assert not timbres["train"] & timbres["test"]  # a test timbre is never heard in training
    said = Counter((clip.split, clip.voice, clip.digit) for clip in clips)  # twice each, by every voice
    assert set(said.values()) == {2} and set(said) == {(s, v, d) for s in voices for v in voices[s] for d in range(10)}
    assert len(clips) >= 2000
    assert clips == spoken_digits.plan(renditions=2, seed=0)  # fixed by the seed
    assert len({clip.path for clip in clips}) == len(clips)


@pytest.mark.skipif(shutil.which("espeak-ng") is None,
                    reason="espeak-ng is not installed (`apt-get install espeak-ng`; .ci/run does)")
def test_clips_are_one_second_deterministic_and_built_into_class_folders_that_are_kept(tmp_path, monkeypatch):
    clip = spoken_digits.plan(renditions=1, seed=3)[7]
    audio = spoken_digits.render(clip)
    assert audio.shape == (spoken_digits.CLIP,) and audio.dtype == np.float32
    assert np.abs(audio).max() <= 1.0
    np.testing.assert_array_equal(audio, spoken_digits.render(clip))
    frames = audio[: len(audio) // 400 * 400].reshape(-1, 400)
    energy = np.sort((frames ** 2).mean(axis=1))
    assert 10 * np.log10(energy[-5:].mean() / energy[:5].mean()) > clip.snr_db - 3  # the word stands out of the noise
    for name, value in (("ACCENTS", ("en-us",)), ("TRAIN_VARIANTS", ("m1", "f2")), ("TEST_VARIANTS", ("m6",))):
        monkeypatch.setattr(spoken_digits, name, value)
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

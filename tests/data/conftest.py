"""Folders of recordings made in tmp_path for the data package tests, and `prepare` into tmp_path."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from spectrogen.data import SpectrogramDataset, prepare

from common import write_tone


@pytest.fixture
def prepared(tmp_path: Path):
    """Returns run(source, out="data", **options): the summary of `prepare` into tmp_path/out, and the data set."""
    def run(source, out: str = "data", **options):
        return prepare(source, tmp_path / out, quiet=True, **options), SpectrogramDataset.open(tmp_path / out)
    return run


@pytest.fixture
def audio_folder(tmp_path: Path) -> Path:
    """Two classes of tones at several rates and channel counts, plus every kind of bad file."""
    root = tmp_path / "recordings"
    write_tone(root / "low" / "a_16k.wav", 440.0, 2.1, 16000)
    write_tone(root / "low" / "b_44k_stereo.flac", 440.0, 1.2, 44100, channels=2)
    write_tone(root / "high" / "c_22k.ogg", 2000.0, 1.5, 22050)
    write_tone(root / "high" / "d_48k.wav", 2000.0, 1.1, 48000, channels=3)
    write_tone(root / "high" / "silence.wav", 100.0, 2.0, 16000, amplitude=0.0)
    (root / "high" / "empty.wav").write_bytes(b"")
    (root / "low" / "notes.wav").write_text("this is a text file, not audio\n")
    good = (root / "low" / "a_16k.wav").read_bytes()
    (root / "low" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + good[200:400])
    return root


@pytest.fixture
def mixed_recordings(tmp_path: Path) -> Path:
    """Recordings of mixed rates, channels, lengths (0.3 s: too short) and sample formats, and bad files."""
    root = tmp_path / "mixed"
    rng = np.random.default_rng(7)
    for k in range(14):
        rate = (16000, 22050, 44100, 48000)[k % 4]
        t = np.arange(int((0.3, 1.1, 1.7, 2.4, 3.2)[k % 5] * rate)) / rate
        mono = 0.4 * np.sin(2 * np.pi * (150 + 40 * k) * t) + 0.05 * rng.standard_normal(len(t))
        audio = np.stack([mono * (1 - 0.2 * c) for c in range(1 + k % 3)], axis=1).astype(np.float32)
        folder = root / ("low" if k % 2 else "high")
        folder.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(folder / f"{k:02d}.wav"), audio, rate, subtype=("PCM_16", "FLOAT", "PCM_24")[k % 3])
    soundfile.write(str(root / "low" / "silent.wav"), np.zeros(40000, np.float32), 16000)
    broken = np.full(30000, 0.1, np.float32)
    broken[12345] = np.nan
    soundfile.write(str(root / "high" / "nan.wav"), broken, 16000, subtype="FLOAT")
    (root / "high" / "empty.wav").write_bytes(b"")
    (root / "low" / "text.wav").write_text("not audio\n")
    return root

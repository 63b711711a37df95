"""Fixtures of the data package tests: tiny folders made in tmp_path."""

from pathlib import Path

import pytest
from synthetic_files import write_tone


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

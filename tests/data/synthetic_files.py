"""Test files for the data package, all synthesised: tones, IDX files, digests of folders."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import soundfile


def tone(frequency: float, seconds: float, sample_rate: int, amplitude: float = 0.5,
         channels: int = 1) -> np.ndarray:
    """Returns a sine tone, (S,) or (S, channels) float32; channel k has amplitude scaled by 1/(k+1)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    mono = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    if channels == 1:
        return mono
    return np.stack([mono / (k + 1) for k in range(channels)], axis=1)


def write_tone(path: Path, frequency: float, seconds: float, sample_rate: int, **kwargs) -> Path:
    """Writes a tone (format from the suffix) and returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone(frequency, seconds, sample_rate, **kwargs), sample_rate)
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """Returns the SHA-256 of every file below `root`, by relative path (plus file modes)."""
    return {
        f"{path.relative_to(root).as_posix()}:{path.stat().st_mode:o}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Writes `array` (uint8) as an IDX file, as MNIST ships them."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path

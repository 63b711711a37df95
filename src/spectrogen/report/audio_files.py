"""The report's .wav files: written to a fresh folder, then swapped in for `report_audio/`.

Swapping keeps a reader of the old page from meeting half-written files, and a report that no
longer has sound (images-only data) leaves no stale files from an earlier one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from spectrogen.sampling.audio import peak_normalize, write_wav

AUDIO_FOLDER = "report_audio"


class AudioFolder:
    """`report_audio/` of one run, built in a staging folder until `publish`."""

    def __init__(self, run_root: Path):
        self.final = Path(run_root) / AUDIO_FOLDER
        self.staging = Path(run_root) / f".{AUDIO_FOLDER}.tmp"
        if self.staging.exists():
            shutil.rmtree(self.staging)  # left by an interrupted report

    def write(self, names: Sequence[str], audio: np.ndarray, sample_rate: int) -> list[str]:
        """Returns the page-relative paths of one .wav per clip of `audio` (N, S), peak-normalised."""
        self.staging.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, clip in zip(names, peak_normalize(audio)):
            write_wav(self.staging / f"{name}.wav", clip, sample_rate)
            paths.append(f"{AUDIO_FOLDER}/{name}.wav")
        return paths

    def publish(self) -> None:
        """Replaces `report_audio/` by the staged files (or removes it when none were written)."""
        if self.final.exists():
            shutil.rmtree(self.final)
        if self.staging.exists():
            self.staging.rename(self.final)

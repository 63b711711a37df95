"""The report's .wav files: written to a fresh folder, then swapped in for `report_audio/`, and embedded.

Swapping keeps a reader of the old page from meeting half-written files, and leaves no stale files.
While the clips fit EMBED_BUDGET the page plays them from data: URIs, so report.html alone still
plays; beyond it the page links to `report_audio/` and says so.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from spectrogen.sampling.audio import set_level, write_wav

AUDIO_FOLDER = "report_audio"
# wav bytes the page embeds at most (a third more as base64): room for 24 of the mel preset's 6-second clips
EMBED_BUDGET = 10 * 2**20


class AudioFolder:
    """`report_audio/` of one run, built in a staging folder until `publish`."""

    def __init__(self, run_root: Path):
        self.final = Path(run_root) / AUDIO_FOLDER
        self.staging = Path(run_root) / f".{AUDIO_FOLDER}.tmp"
        if self.staging.exists():
            shutil.rmtree(self.staging)  # left by an interrupted report

    def write(self, names: Sequence[str], audio: np.ndarray, sample_rate: int, loudness: str = "data") -> list[str]:
        """Returns the page-relative paths of one .wav per clip of `audio` (N, S), at the level `loudness` names."""
        self.staging.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, clip in zip(names, set_level(audio, loudness)):
            write_wav(self.staging / f"{name}.wav", clip, sample_rate)
            paths.append(f"{AUDIO_FOLDER}/{name}.wav")
        return paths

    def embeddable(self) -> bool:
        """Returns True when every file written so far fits EMBED_BUDGET together."""
        files = list(self.staging.glob("*.wav")) if self.staging.exists() else []
        return sum(path.stat().st_size for path in files) <= EMBED_BUDGET

    def data_uri(self, path: Optional[str]) -> Optional[str]:
        """Returns the staged file behind page-relative `path` as a data: URI (None stays None)."""
        if path is None:
            return None
        data = (self.staging / Path(path).name).read_bytes()
        return "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")

    def publish(self) -> None:
        """Replaces `report_audio/` by the staged files (or removes it when none were written)."""
        if self.final.exists():
            shutil.rmtree(self.final)
        if self.staging.exists():
            self.staging.rename(self.final)

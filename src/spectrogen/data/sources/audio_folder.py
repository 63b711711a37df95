"""A folder of recordings (or one): wav, flac, ogg/opus, mp3, aiff via libsndfile, any rate and channels."""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
import soundfile

from spectrogen.data.decode import read_audio
from spectrogen.data.sources.base import AudioSource, Item, list_class_files

#: what libsndfile decodes here (mp3 needs libsndfile >= 1.1, which the soundfile wheels bundle)
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")


class AudioFolder(AudioSource):
    """Recordings in a folder, one class per first-level sub-folder."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, AUDIO_SUFFIXES, "audio", self)

    def duration(self, item: Item) -> Optional[float]:
        try:
            return float(soundfile.info(str(item.path)).duration)
        except Exception:  # unreadable here: read() says why, later
            return None

    def read(self, item: Item, sample_rate: int) -> Iterator[np.ndarray]:
        return read_audio(item.path, sample_rate)

"""MUSDB18, one class per stem (`--stems`), one split (`--split`); ROOT may be the split folder itself.

- MUSDB18-HQ: `ROOT/{train,test}/<track>/{mixture,drums,bass,other,vocals}.wav`;
- MUSDB18: `ROOT/{train,test}/<track>.stem.mp4`, streams 0..4 in that order, decoded with ffmpeg.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from spectrogen.data.decode import ffmpeg_path, read_audio, read_ffmpeg_stream
from spectrogen.data.options import MUSDB_STEMS
from spectrogen.data.sources.base import AudioSource, Item, require_folder, visible
from spectrogen.errors import InputError


def split_folder(root: Path, split: str) -> Path:
    """Returns the folder holding the tracks of `split`: ROOT/split, or ROOT when it holds tracks itself."""
    if (root / split).is_dir():
        return root / split
    if looks_like_tracks(root):
        return root
    raise InputError(
        f"has no {split}/ folder of tracks; expected MUSDB18 as ROOT/{split}/<track>/mixture.wav "
        f"(MUSDB18-HQ) or ROOT/{split}/<track>.stem.mp4", root,
    )


def looks_like_tracks(folder: Path) -> bool:
    """Returns whether `folder` directly holds MUSDB18 tracks (HQ track folders or .stem.mp4 files)."""
    return any(folder.glob("*/mixture.wav")) or any(folder.glob("*.stem.mp4"))


def is_musdb(folder: Path) -> bool:
    """Returns whether `folder` looks like a MUSDB18 root or split folder (for --kind auto)."""
    return any(looks_like_tracks(folder / split) for split in ("train", "test")) or looks_like_tracks(folder)


class Musdb(AudioSource):
    """The chosen stems of the chosen split of MUSDB18(-HQ)."""

    default_representation = "autoencoder"

    def scan(self) -> list[Item]:
        root = require_folder(self.location, "MUSDB18 tracks")
        tracks_dir = split_folder(root, self.options.split)
        self.class_names = list(self.options.stems)
        items = []
        for track in sorted(p for p in tracks_dir.iterdir() if p.is_dir() and visible(p, tracks_dir)):
            for label, stem in enumerate(self.options.stems):
                path = track / f"{stem}.wav"
                if path.is_file():
                    items.append(Item(path.relative_to(root).as_posix(), label, path))
                else:
                    self.rejected.append((path.relative_to(root).as_posix(), f"track has no {stem}.wav"))
        stem_files = sorted(p for p in tracks_dir.glob("*.stem.mp4") if visible(p, tracks_dir))
        if stem_files:
            ffmpeg_path()  # fail at once, not once per file, when ffmpeg is missing
        for path in stem_files:
            for label, stem in enumerate(self.options.stems):
                items.append(Item(f"{path.relative_to(root).as_posix()}#{stem}", label, path,
                                  detail=MUSDB_STEMS.index(stem)))
        if not items:
            raise InputError(
                f"holds no tracks with the stems {', '.join(self.options.stems)} "
                f"(looked for <track>/<stem>.wav and <track>.stem.mp4)", tracks_dir,
            )
        return items

    def read(self, item: Item, sample_rate: int) -> Iterator[np.ndarray]:
        if item.detail is None:
            return read_audio(item.path, sample_rate)
        return read_ffmpeg_stream(item.path, item.detail, sample_rate)

"""What every data source provides: a listing of items with labels, and a way to read one item. An `AudioSource`
yields recordings, cut into windows and turned into features; an `ArraySource` yields ready-made 2-D examples, stored
as they are: frequency on axis -2, lowest at row 0 (pictures bottom row first, so every data set plots upright)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Optional

import numpy as np

from spectrogen.data.options import PrepareOptions
from spectrogen.errors import InputError


@dataclass(frozen=True)
class Item:
    """One thing a source reads: usually a file, sometimes one stream of a file or a generated clip."""

    name: str  # shown in index.csv and the summary; a path relative to the source root
    label: int  # class index into the source's class_names
    path: Optional[Path] = None  # the file to read, None for generated items
    detail: Any = None  # source-specific: a stream number, a clip number


class Source(ABC):
    """Base of every source. Subclasses are registered in `spectrogen.data.sources.SOURCES`."""

    #: the representation preset used when the user names none
    default_representation: ClassVar[str] = "specgan"

    def __init__(self, location: Optional[Path], options: PrepareOptions):
        self.location = location
        self.options = options
        self.kind = ""  # the registry name it was opened as
        self.class_names: list[str] = []
        self.rejected: list[tuple[str, str]] = []  # (name, reason) of files found but unreadable here; set by scan()
        self.ignored: dict[str, int] = {}  # files of other types in the folder, not read, by suffix; set by scan()

    @abstractmethod
    def scan(self) -> list[Item]:
        """Returns the items to read, in a stable order; sets `class_names` ([] when unlabelled); raises
        InputError when the location holds nothing this source can read."""


class AudioSource(Source):
    """A source of recordings."""

    #: the window length, set by `prepare` before reading: generated clips are one window long
    window_seconds: Optional[float] = None

    def duration(self, item: Item) -> Optional[float]:
        """Returns the item's length in seconds when its header tells it cheaply, else None."""
        return None

    @abstractmethod
    def read(self, item: Item, sample_rate: int) -> Iterator[np.ndarray]:
        """Yields the item's audio as mono float32 chunks (n,) at `sample_rate`, each a new array (windows
        are views into it); raises SkipFile."""


class ArraySource(Source):
    """A source of ready-made 2-D examples."""

    default_representation = "image"

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        """Returns the (F, T) shape of the item's examples without reading them all, None if unknown."""
        return None

    @abstractmethod
    def read(self, item: Item) -> Iterator[tuple[np.ndarray, Optional[np.ndarray]]]:
        """Yields the item's examples as (float32 (n, F, T) oriented as stored, labels (n,) or None: all
        `item.label`); raises SkipFile (after some examples: they are kept, the reason is a note)."""


def require_folder(location: Optional[Path], what: str) -> Path:
    """Returns `location` when it is an existing folder; raises InputError otherwise."""
    if location is None or not location.is_dir():
        raise InputError(f"is not a folder; {what} are read from a folder", location)
    return location


def visible(path: Path, root: Path) -> bool:
    """Returns whether no part of `path` below `root` is hidden (dot files, `._x` resource forks)."""
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def list_class_files(location: Path, suffixes: tuple[str, ...], what: str, source: Source) -> list[Item]:
    """Returns the files with one of `suffixes` in `location` (a folder, or one file); sets `source.class_names`:
    the first-level sub-folders when any file lies in one (files beside them are rejected), else none."""
    source.class_names = []
    if location.is_file():
        if not location.name.lower().endswith(suffixes):
            raise InputError(f"is not one of the {what} files read here ({', '.join(suffixes)})", location)
        return [Item(location.name, 0, location)]
    root = require_folder(location, what)
    files, others = [], Counter()
    # the parts below root, computed once per path: a folder can hold many thousands of files
    for parts, path in sorted((path.relative_to(root).parts, path) for path in root.rglob("*")):
        if any(part.startswith(".") for part in parts):
            continue
        if path.name.lower().endswith(suffixes):
            if path.is_file():
                files.append((path, parts))
            elif not path.is_dir():  # never opened: a pipe would block the run, a broken link has nothing
                kind = "a broken symbolic link" if path.is_symlink() and not path.exists() else "not a regular file"
                source.rejected.append(("/".join(parts), f"unreadable: {kind}"))
        elif path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
            source.rejected.append(("/".join(parts) + "/",
                                    "unreadable folder (permission denied): the files in it were not read"))
        elif path.is_file():
            others[suffix_of(path)] += 1
    source.ignored = dict(sorted(others.items()))
    if not files:
        found = f"; it holds {describe_files(others)}" if others else ""
        raise InputError(f"holds no {what} files ({', '.join(suffixes)}){found}{conversion_hint(others)}", root)
    nested = [(path, parts) for path, parts in files if len(parts) > 1]
    if not nested:
        return [Item("/".join(parts), 0, path) for path, parts in files]
    source.class_names = sorted({parts[0] for _, parts in nested})
    label_of = {name: index for index, name in enumerate(source.class_names)}
    source.rejected += [(path.name, "outside the class sub-folders (class = first-level sub-folder)")
                        for path, parts in files if len(parts) == 1]
    return [Item("/".join(parts), label_of[parts[0]], path) for path, parts in nested]


#: audio and video containers libsndfile does not read; ffmpeg converts them
CONVERTIBLE_SUFFIXES = (".m4a", ".aac", ".mp4", ".m4b", ".wma", ".webm", ".mkv", ".mov", ".amr", ".3gp",
                        ".caf", ".wv", ".ape", ".ac3", ".mpc", ".ra")


def suffix_of(path: Path) -> str:
    """Returns the lower-case suffix of `path`, or "(no suffix)"."""
    return path.suffix.lower() or "(no suffix)"


def describe_files(by_suffix: Counter | dict[str, int]) -> str:
    """Returns e.g. "3 .m4a files, 1 .txt file", most common first (ties by name)."""
    counted = sorted(Counter(by_suffix).items(), key=lambda pair: (-pair[1], pair[0]))
    return ", ".join(f"{n} {suffix} file{'s' if n > 1 else ''}" for suffix, n in counted)


def conversion_hint(by_suffix: Counter | dict[str, int]) -> str:
    """Returns advice for audio files of a format not read here (empty when there are none)."""
    convertible = sorted(suffix for suffix in by_suffix if suffix in CONVERTIBLE_SUFFIXES)
    if not convertible:
        return ""
    return (f". {', '.join(convertible)} audio is not read directly: convert it to .wav or .flac first, "
            f"e.g. `ffmpeg -i in{convertible[0]} out.wav`")

"""Data sources: the registry (name -> Source class; ``@SOURCES.register("name")`` on a `Source` subclass makes
``--kind name``) and the choice of a source for a location."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from spectrogen.data.sources.base import (ArraySource, AudioSource, Item, Source, conversion_hint, describe_files,
                                          suffix_of, visible)
from spectrogen.data.sources.builtin import BuiltinDigits, BuiltinEngines
from spectrogen.data.sources.files import (AUDIO_SUFFIXES, AudioFolder, CsvFiles, Mnist, Musdb, NpyFiles, PngFiles,
                                           is_musdb)
from spectrogen.errors import InputError, UsageError
from spectrogen.registry import Registry

SOURCES: Registry[type[Source]] = Registry("data source")
for _name, _cls in {
    "audio": AudioFolder, "csv": CsvFiles, "png": PngFiles, "npy": NpyFiles, "musdb": Musdb, "mnist": Mnist,
    "builtin:engines": BuiltinEngines, "builtin:digits": BuiltinDigits,
}.items():
    SOURCES.register(_name)(_cls)

BUILTIN_PREFIX = "builtin:"
_SUFFIX_KINDS = {**{suffix: "audio" for suffix in AUDIO_SUFFIXES}, ".csv": "csv", ".tsv": "csv",
                 ".png": "png", ".npy": "npy"}
#: the share of the files one kind must have for `--kind auto` to choose it in a mixed folder
MOSTLY = 0.9


def detect_kind(location: Path) -> str:
    """Returns the source kind that `--kind auto` picks for the existing `location`; raises InputError/UsageError."""
    if location.is_file():
        kind = _SUFFIX_KINDS.get(location.suffix.lower())
        if kind is None:
            raise InputError(f"is not a file type prepare reads ({', '.join(sorted(_SUFFIX_KINDS))})", location)
        return kind
    if is_musdb(location):
        return "musdb"
    if any(location.rglob("train-images*idx3-ubyte*")) or any(location.rglob("t10k-images*idx3-ubyte*")):
        return "mnist"
    suffixes = Counter(suffix_of(path) for path in location.rglob("*") if visible(path, location) and path.is_file())
    kinds = Counter(_SUFFIX_KINDS[suffix] for suffix in suffixes.elements() if suffix in _SUFFIX_KINDS)
    if not kinds:
        found = f"; it holds {describe_files(suffixes)}" if suffixes else "; it holds no files"
        raise InputError("holds no audio (wav, flac, ogg, mp3, aiff), CSV, PNG or .npy files, MUSDB18 tracks or "
                         f"MNIST IDX files{found}{conversion_hint(suffixes)}", location)
    top, count = kinds.most_common(1)[0]
    if count >= MOSTLY * sum(kinds.values()):  # e.g. a sample pack with a manifest.csv: the others are ignored
        return top
    found = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
    raise UsageError(f"{location}: holds several kinds of files ({found}); choose one with --kind")


def open_source(spec: str, kind: str, options) -> Source:
    """Returns the source that reads `spec` (a path or ``builtin:NAME``) as `kind` (or auto-detected)."""
    location = None if spec.startswith(BUILTIN_PREFIX) else Path(spec).expanduser()
    if location is None:
        kind = spec
    elif not location.exists():
        raise InputError("does not exist", location)
    elif location.is_dir() and not os.access(location, os.R_OK | os.X_OK):
        raise InputError("cannot be read: permission denied", location)
    elif kind == "auto":
        kind = detect_kind(location)
    elif kind.startswith(BUILTIN_PREFIX):
        raise UsageError(f"--kind {kind}: give built-in sets as SRC ({kind}), not as --kind")
    source = SOURCES.get(kind)(location, options)
    source.kind = kind
    return source


__all__ = ["SOURCES", "ArraySource", "AudioSource", "Item", "Source", "detect_kind", "open_source"]

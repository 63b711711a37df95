"""The choices `prepare` passes to every source and to the windowing (one validated record), and the
`Representation` a data set gets: a named preset with the user's settings (its field names), or an image."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any, Literal, Mapping, Optional

from spectrogen.errors import UsageError
from spectrogen.spectral.representation import Representation

MUSDB_STEMS = ("mixture", "drums", "bass", "other", "vocals")

#: windows quieter than this (RMS in dBFS, a full-scale square wave is 0 dBFS) are dropped
DEFAULT_SILENCE_DB = -60.0

#: representation field -> (flag, smallest, largest): far above what the presets use, low enough that a
#: typo is refused before any file is read instead of ending in MemoryError
SIZE_LIMITS = {
    "sample_rate": ("--sample-rate", 1, 768_000),  # the highest rate audio interfaces record at
    "n_fft": ("--n-fft", 2, 65_536),  # 1.5 s at 44.1 kHz
    "n_mels": ("--n-mels", 1, 2048),
    "frames": ("--frames", 1, 16_384),  # 131 s of the specgan preset, 190 s of mel
    "image_size": ("--image-size", 1, 2048),  # each side; the model configuration's bound too
}
#: the most audio samples one example may span (--frames x --hop): 190 s at 44.1 kHz
MAX_EXAMPLE_SAMPLES = 1 << 23
#: the most STFT values one example may hold ((n_fft // 2 + 1) x frames, before any mel or resize)
MAX_EXAMPLE_BINS = 1 << 24


@dataclass(frozen=True)
class PrepareOptions:
    """How sources are read and recordings are cut; every field has the CLI flag of the same name."""

    window_hop: Optional[float] = None  # seconds between window starts; None: one window length
    short: Literal["pad", "drop"] = "pad"  # what happens to windows that run past the recording's end
    silence_db: Optional[float] = DEFAULT_SILENCE_DB  # None: keep silent windows too
    freq_axis: Literal[0, 1] = 0  # which axis of a 2-D CSV/NPY example holds frequency
    stems: tuple[str, ...] = MUSDB_STEMS  # MUSDB18 stems to read, each a class
    split: Literal["train", "test"] = "train"  # MUSDB18 / MNIST split
    count: Optional[int] = None  # clips per class of builtin:engines (None: its default)
    seed: int = 0  # seed of the built-in generators
    limit: Optional[int] = None  # stop after this many examples
    # recordings: "onset" makes one example per file from its onset (one-shots), "windows" cuts
    # windows; "auto" chooses onset when most files are about one window long or shorter
    slicing: Literal["auto", "onset", "windows"] = "auto"
    max_windows_per_file: Optional[int] = None  # windows: use the first this many of each recording

    def __post_init__(self) -> None:
        if self.window_hop is not None and not (self.window_hop > 0 and math.isfinite(self.window_hop)):
            raise UsageError(f"--window-hop {self.window_hop}: use a positive number of seconds")
        if self.short not in ("pad", "drop"):
            raise UsageError(f"--short {self.short!r}: use pad or drop")
        if self.freq_axis not in (0, 1):
            raise UsageError(f"--freq-axis {self.freq_axis}: use 0 (rows are frequency) or 1 (columns are)")
        if self.split not in ("train", "test"):
            raise UsageError(f"--split {self.split!r}: use train or test")
        if not self.stems:
            raise UsageError(f"--stems is empty: use some of {', '.join(MUSDB_STEMS)}")
        if set(self.stems) - set(MUSDB_STEMS) or len(set(self.stems)) != len(self.stems):
            raise UsageError(f"--stems {','.join(self.stems)}: use each of {', '.join(MUSDB_STEMS)} at most once")
        if self.slicing not in ("auto", "onset", "windows"):
            raise UsageError(f"--slicing {self.slicing!r}: use auto, onset or windows")
        for flag, value in (("--count", self.count), ("--limit", self.limit),
                            ("--max-windows-per-file", self.max_windows_per_file)):
            if value is not None and value < 1:
                raise UsageError(f"{flag} {value}: use a positive number")

    def to_dict(self) -> dict[str, Any]:
        """Returns the options as JSON-ready values (stored in dataset.json)."""
        return {**asdict(self), "stems": list(self.stems)}


def check_size_settings(settings: Mapping[str, Any]) -> None:
    """Raises UsageError naming the flag when a size in `settings` (representation fields) is above its bound."""
    for field, (flag, low, high) in SIZE_LIMITS.items():
        value = settings.get(field)
        sides = list(value) if isinstance(value, (list, tuple)) else [value]
        if value is None or not all(isinstance(side, Real) and not isinstance(side, bool) for side in sides):
            continue  # not a number: the representation's own validation names it
        if not all(side <= high for side in sides):
            each = " for each side" if len(sides) > 1 else ""
            raise UsageError(f"{flag} {'x'.join(str(side) for side in sides)}: out of range, "
                             f"use {low} to {high}{each}")


def check_example_size(representation: Representation) -> None:
    """Raises UsageError when one example of `representation` would span too many samples or STFT values."""
    check_size_settings(representation.to_dict())
    if representation.kind == "image":  # no audio behind it
        return
    frames, hop, n_fft = representation.frames, representation.hop_length, representation.n_fft
    samples, bins = frames * hop, (n_fft // 2 + 1) * frames
    if samples > MAX_EXAMPLE_SAMPLES:
        raise UsageError(f"--frames {frames} x --hop {hop} = {samples} samples per example "
                         f"({samples / representation.sample_rate:.0f} s): out of range, use at most "
                         f"{MAX_EXAMPLE_SAMPLES} (fewer --frames or a smaller --hop)")
    if bins > MAX_EXAMPLE_BINS:
        raise UsageError(f"--n-fft {n_fft} ({n_fft // 2 + 1} frequency rows) x --frames {frames} = {bins} STFT "
                         f"values per example: out of range, use at most {MAX_EXAMPLE_BINS} (a smaller --n-fft "
                         f"or fewer --frames)")


def _apply(base: Representation, settings: Optional[Mapping[str, Any]]) -> Representation:
    """Returns `base` with the fields in `settings` replaced (and everything re-validated)."""
    if not settings:
        return base
    fields = base.to_dict()
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise UsageError(f"unknown representation field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    settings = dict(settings)
    if "n_fft" in settings and "win_length" not in settings and fields["win_length"] == fields["n_fft"]:
        settings["win_length"] = settings["n_fft"]  # a window as long as the FFT stays so
    return Representation.from_dict({**fields, **settings})


def named_representation(representation: Any, settings: Optional[Mapping[str, Any]] = None) -> Representation:
    """Returns the preset named `representation` (or the Representation / dict given) with `settings`; raises
    UsageError, before any file is read, when its examples would be too large."""
    if isinstance(representation, Representation):
        base = representation
    elif isinstance(representation, str):
        base = Representation.preset(representation)
    else:
        base = Representation.from_dict(dict(representation))
    chosen = _apply(base, settings)
    check_example_size(chosen)
    return chosen


def image_representation(shape: tuple[int, int], settings: Optional[Mapping[str, Any]] = None) -> Representation:
    """Returns the ``image`` representation of arrays of `shape` (F, T), resized to an ``image_size`` in `settings`."""
    settings = dict(settings or {})
    size = settings.pop("image_size", None) or shape
    return _apply(Representation.from_dict({"kind": "image", "image_size": list(size)}), settings)

"""The choices `prepare` passes to every source and to the windowing: one validated record."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, Optional

from spectrogen.errors import UsageError

MUSDB_STEMS = ("mixture", "drums", "bass", "other", "vocals")

#: windows quieter than this (RMS in dBFS, a full-scale square wave is 0 dBFS) are dropped
DEFAULT_SILENCE_DB = -60.0


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
        unknown = [stem for stem in self.stems if stem not in MUSDB_STEMS]
        if unknown or len(set(self.stems)) != len(self.stems):
            raise UsageError(
                f"--stems {','.join(self.stems)}: use each of {', '.join(MUSDB_STEMS)} at most once"
            )
        for flag, value in (("--count", self.count), ("--limit", self.limit)):
            if value is not None and value < 1:
                raise UsageError(f"{flag} {value}: use a positive number")

    def to_dict(self) -> dict[str, Any]:
        """Returns the options as JSON-ready values (stored in dataset.json)."""
        values = asdict(self)
        values["stems"] = list(self.stems)
        return values

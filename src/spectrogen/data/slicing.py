"""Which way recordings become examples: one per file from its onset (one-shots), or windows.

Sample packs, drum machines, spoken-word sets (SC09) and most sound-effect libraries are one-shots:
files about one window long or shorter, each one sound. Cutting them into windows drops every file
shorter than half a window and lets one long file (a ringing cymbal) give many examples; one example
per file from the onset, zero-padded (WaveGAN's "first slice, pad end"), keeps every file whole and
counts each once. Long recordings (engine loops, music, speech) are cut into windows.
"""

from __future__ import annotations

from statistics import median
from spectrogen.data.sources.base import AudioSource, Item

#: one-shots: the median file is at most one window long, or this share of the files is shorter than
#: half a window (windows would drop every one of them)
SHORT_SHARE = 0.25
#: files whose length is read to decide (spread evenly over the list)
PROBED_FILES = 400


def choose_slicing(source: AudioSource, items: list[Item], window_seconds: float, asked: str) -> tuple[str, str]:
    """Returns ("onset" or "windows", why) for `items`; `asked` is the --slicing value (auto, onset, windows)."""
    if asked != "auto":
        return asked, f"--slicing {asked}"
    step = max(1, len(items) // PROBED_FILES)
    lengths = [length for length in (source.duration(item) for item in items[::step]) if length is not None]
    if not lengths or len(lengths) * 2 < len(items[::step]):
        return "windows", "the recordings' lengths are not known before reading (--slicing onset to override)"
    typical = median(lengths)
    short = sum(length < window_seconds / 2 for length in lengths) / len(lengths)
    if typical <= window_seconds or short >= SHORT_SHARE:
        return "onset", (f"one-shots: the median file lasts {typical:.2f} s and {short:.0%} are shorter than half a "
                         f"window ({window_seconds:.2f} s); one example per file from its onset "
                         "(--slicing windows to cut windows)")
    return "windows", (f"the median file lasts {typical:.2f} s, longer than a window ({window_seconds:.2f} s); "
                       "cut into windows (--slicing onset for one example per file)")

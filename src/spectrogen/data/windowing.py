"""Cutting recordings into windows of `window` samples every `hop` (strided views, no loop over windows): one that runs
past the end is zero-padded and kept when at least half of it is inside (`short="pad"`; "drop" drops them all), one
whose RMS over its real samples is below `silence_db` dBFS is dropped, `max_windows` keeps the first that many.
`OnsetSlicer` instead makes one example of a one-shot from its onset; `choose_slicing` picks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from statistics import median
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass
class WindowBlock:
    """Consecutive kept windows of one recording."""

    audio: np.ndarray  # (K, window) float32, possibly a read-only view into the recording
    starts: np.ndarray  # (K,) int64 first sample of each window in the recording


@dataclass
class WindowCounts:
    """What happened to the windows of one recording."""

    kept: int = 0
    silent: int = 0
    short: int = 0  # partial windows dropped at the end (less than half inside, or short="drop")
    samples: int = 0  # length of the recording at the target rate


def rms_dbfs(audio: np.ndarray, lengths: Optional[np.ndarray] = None) -> np.ndarray:
    """Returns the RMS level in dBFS of each row of `audio` (K, S) over its first `lengths` samples (the rest zeros)."""
    # float32 products summed by BLAS: precise enough for a threshold in dB, and far faster than float64
    energy = np.einsum("ks,ks->k", audio, audio).astype(np.float64)
    count = np.full(len(audio), audio.shape[1]) if lengths is None else lengths
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy / np.maximum(count, 1))


class Windower:
    """Cuts a recording, given as a stream of chunks, into windows; keeps memory to one window + one chunk."""

    def __init__(self, window: int, hop: int, short: str = "pad", silence_db: Optional[float] = None,
                 max_windows: Optional[int] = None):
        self.window = window
        self.hop = hop
        self.short = short
        self.silence_db = silence_db
        self.max_windows = sys.maxsize if max_windows is None else max_windows  # kept windows of a recording

    def windows(self, chunks: Iterable[np.ndarray], counts: WindowCounts) -> Iterator[WindowBlock]:
        """Yields blocks of kept windows (read-only views where possible) of the recording in `chunks`."""
        pending = np.zeros(0, dtype=np.float32)
        offset = 0  # position of pending[0] in the recording; always a window start
        for chunk in chunks:
            counts.samples += len(chunk)
            chunk = chunk.astype(np.float32, copy=False)
            pending = np.concatenate([pending, chunk]) if len(pending) else chunk  # a whole file: no copy
            if len(pending) < self.window:
                continue
            full = (len(pending) - self.window) // self.hop + 1
            yield from self._keep(self._views(pending, full), self.hop * np.arange(full), None, offset, counts)
            if counts.kept >= self.max_windows:
                return
            pending = pending[full * self.hop:]
            offset += full * self.hop
        yield from self._tail(pending, offset, counts)

    def _tail(self, pending: np.ndarray, offset: int, counts: WindowCounts) -> Iterator[WindowBlock]:
        """Yields the kept windows that run past the end of the recording (zero-padded), if any."""
        if len(pending) == 0:
            return
        starts = np.arange(0, len(pending), self.hop)  # partial windows still to decide
        lengths = len(pending) - starts
        keep = lengths * 2 >= self.window if self.short == "pad" else np.zeros(len(starts), dtype=bool)
        counts.short += int((~keep).sum())
        if not keep.any():
            return
        starts, lengths = starts[keep], lengths[keep]  # a prefix: the first windows of the tail
        padded = np.zeros(len(starts) * self.hop + self.window, dtype=np.float32)
        padded[: len(pending)] = pending
        yield from self._keep(self._views(padded, len(starts)), starts, lengths, offset, counts)

    def _views(self, audio: np.ndarray, count: int) -> np.ndarray:
        """Returns read-only views (count, window) of the first `count` windows of `audio`."""
        if self.hop == self.window:  # side by side (the default): a plain reshape, cheaper to make
            views = audio[: count * self.window].reshape(count, self.window)
            views.flags.writeable = False
            return views
        return sliding_window_view(audio, self.window)[:: self.hop][:count]

    def _keep(self, views: np.ndarray, starts: np.ndarray, lengths: Optional[np.ndarray],
              offset: int, counts: WindowCounts) -> Iterator[WindowBlock]:
        """Yields the windows `views` (starting at `starts`, holding `lengths` real samples) loud enough, if any."""
        if self.silence_db is not None:
            loud = rms_dbfs(views, lengths) >= self.silence_db
            counts.silent += int((~loud).sum())
            if not loud.all():
                views, starts = views[loud], starts[loud]
        room = max(0, self.max_windows - counts.kept)
        views, starts = views[:room], starts[:room]
        counts.kept += len(views)
        if len(views):
            yield WindowBlock(views, (offset + starts).astype(np.int64))


# the onset is the first frame of ONSET_FRAME_S seconds within ONSET_BELOW_PEAK_DB of the loudest frame of the first
# ONSET_SEARCH_S seconds, less ONSET_LEAD_S so that the attack is never cut
ONSET_FRAME_S = 0.005
ONSET_BELOW_PEAK_DB = 30.0
ONSET_LEAD_S = 0.005
ONSET_SEARCH_S = 2.0


@dataclass
class OnsetSlicer:
    """Makes the one example of a one-shot recording (a file about a window long or shorter): the window from its
    onset, zero-padded at the end (WaveGAN's "first slice, pad end"), so none is dropped for being short."""

    window: int
    sample_rate: int
    silence_db: Optional[float] = None

    def windows(self, chunks: Iterable[np.ndarray], counts: WindowCounts) -> Iterator[WindowBlock]:
        """Yields one block holding the item's one example (none when it is silent)."""
        search = int(ONSET_SEARCH_S * self.sample_rate)
        needed = search + self.window  # enough for any onset in the searched part
        pieces, held = [], 0
        for chunk in chunks:
            counts.samples += len(chunk)
            if held < needed:
                pieces.append(chunk[: needed - held].astype(np.float32, copy=False))
                held += len(pieces[-1])
        audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if len(audio) == 0:
            counts.short += 1
            return
        start = onset_sample(audio[:search], self.sample_rate)
        example = np.zeros((1, self.window), dtype=np.float32)
        body = audio[start:start + self.window]
        example[0, : len(body)] = body
        if self.silence_db is not None and rms_dbfs(example, np.array([max(len(body), 1)]))[0] < self.silence_db:
            counts.silent += 1
            return
        counts.kept += 1
        yield WindowBlock(example, np.array([start], dtype=np.int64))


def onset_sample(audio: np.ndarray, sample_rate: int) -> int:
    """Returns the sample where the sound in `audio` starts."""
    frame = max(1, int(ONSET_FRAME_S * sample_rate))
    count = len(audio) // frame
    if count == 0:
        return 0
    frames = audio[: count * frame].reshape(count, frame)
    energy = np.einsum("kf,kf->k", frames, frames) / frame
    peak = float(energy.max())
    if peak <= 0.0:
        return 0
    first = int(np.argmax(energy >= peak * 10.0 ** (-ONSET_BELOW_PEAK_DB / 10.0)))
    return max(0, first * frame - int(ONSET_LEAD_S * sample_rate))


#: one-shots: the median file is at most one window long, or this share of the files is shorter than half a window
#: (windows would drop every one of them)
SHORT_SHARE = 0.25
#: files whose length is read to decide (spread evenly over the list)
PROBED_FILES = 400


def choose_slicing(duration: Callable[[object], Optional[float]], items: Sequence, window_seconds: float,
                   asked: str) -> tuple[str, str]:
    """Returns ("onset" or "windows", why) for `items` of lengths `duration(item)` (None unknown), --slicing `asked`."""
    if asked != "auto":
        return asked, f"--slicing {asked}"
    step = max(1, len(items) // PROBED_FILES)
    lengths = [length for length in (duration(item) for item in items[::step]) if length is not None]
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

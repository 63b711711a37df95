"""Cutting recordings into fixed-length windows, and which windows are kept.

The rule (the same for every audio source):

- windows are `window` samples long and start every `hop` samples: 0, hop, 2*hop, ...;
- a window that lies wholly inside the recording is kept;
- a window that runs past the end is kept with `short="pad"` when at least half of it is inside
  the recording (the rest is zero-filled), and dropped otherwise; `short="drop"` drops them all.
  So with the default a recording shorter than half a window makes no example at all;
- a kept window whose RMS over its real (unpadded) samples is below `silence_db` dBFS is dropped
  (0 dBFS is the RMS of a full-scale square wave; a full-scale sine is about -3 dBFS);
- with `max_windows`, only the first that many kept windows of a recording are used, so that one
  long recording cannot outweigh its class.

One-shot recordings (a drum hit, a spoken word) are not windowed: `OnsetSlicer` makes one example
of each, from the sound's onset, zero-padded to the window.

Windows are made with strided views, so there is no Python loop over windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

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
    """Returns the RMS level in dBFS of each row of `audio` (K, S) over its first `lengths` samples.

    Samples past `lengths` must be zeros (the padding of a window that runs past the end).
    """
    # float32 products summed by BLAS: precise enough for a threshold in dB, and far faster
    # than a float64 reduction (the rows may be overlapping strided views)
    energy = np.einsum("ks,ks->k", audio, audio).astype(np.float64)
    count = np.full(len(audio), audio.shape[1]) if lengths is None else lengths
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy / np.maximum(count, 1))


class Windower:
    """Cuts a recording, given as a stream of chunks, into windows; keeps memory to one window + one chunk."""

    def __init__(self, window: int, hop: int, short: str = "pad", silence_db: Optional[float] = None,
                 max_windows: Optional[int] = None):
        if window < 1 or hop < 1:
            raise ValueError(f"window ({window}) and hop ({hop}) must be positive")
        self.window = window
        self.hop = hop
        self.short = short
        self.silence_db = silence_db
        self.max_windows = max_windows  # the first this many kept windows of a recording; None: all

    def _full(self, counts: WindowCounts) -> bool:
        return self.max_windows is not None and counts.kept >= self.max_windows

    def windows(self, chunks: Iterable[np.ndarray], counts: WindowCounts) -> Iterator[WindowBlock]:
        """Yields blocks of kept windows of the recording made of `chunks`; fills in `counts`.

        The windows are read-only views into the recording where no window is dropped (copied
        once, by the consumer, instead of twice).
        """
        pending = np.zeros(0, dtype=np.float32)
        offset = 0  # position of pending[0] in the recording; always a window start
        for chunk in chunks:
            counts.samples += len(chunk)
            chunk = chunk.astype(np.float32, copy=False)
            pending = np.concatenate([pending, chunk]) if len(pending) else chunk  # a whole file: no copy
            if len(pending) < self.window:
                continue
            full = (len(pending) - self.window) // self.hop + 1
            starts = self.hop * np.arange(full)
            views = self._views(pending, full)  # (full, window)
            block = self._keep(views, starts, None, offset, counts)
            if block is not None:
                yield block
            if self._full(counts):
                return
            pending = pending[full * self.hop:]
            offset += full * self.hop
        tail = self._tail(pending, offset, counts)
        if tail is not None:
            yield tail

    def _tail(self, pending: np.ndarray, offset: int, counts: WindowCounts) -> Optional[WindowBlock]:
        """Returns the kept windows that run past the end of the recording (zero-padded), if any."""
        if len(pending) == 0:
            return None
        starts = np.arange(0, len(pending), self.hop)  # partial windows still to decide
        lengths = len(pending) - starts
        keep = lengths * 2 >= self.window if self.short == "pad" else np.zeros(len(starts), dtype=bool)
        counts.short += int((~keep).sum())
        if not keep.any():
            return None
        starts, lengths = starts[keep], lengths[keep]  # a prefix: the first windows of the tail
        padded = np.zeros(len(starts) * self.hop + self.window, dtype=np.float32)
        padded[: len(pending)] = pending
        views = self._views(padded, len(starts))
        return self._keep(views, starts, lengths, offset, counts)

    def _views(self, audio: np.ndarray, count: int) -> np.ndarray:
        """Returns read-only views (count, window) of the first `count` windows of `audio`."""
        if self.hop == self.window:  # side by side (the default): a plain reshape, cheaper to make
            views = audio[: count * self.window].reshape(count, self.window)
            views.flags.writeable = False
            return views
        return sliding_window_view(audio, self.window)[:: self.hop][:count]

    def _keep(self, views: np.ndarray, starts: np.ndarray, lengths: Optional[np.ndarray],
              offset: int, counts: WindowCounts) -> Optional[WindowBlock]:
        """Returns the windows `views` (starting at `starts`, holding `lengths` real samples) loud enough."""
        if self.silence_db is not None:
            loud = rms_dbfs(views, lengths) >= self.silence_db
            counts.silent += int((~loud).sum())
            if not loud.all():
                views, starts = views[loud], starts[loud]
        if self.max_windows is not None:
            room = max(0, self.max_windows - counts.kept)
            views, starts = views[:room], starts[:room]
        counts.kept += len(views)
        return WindowBlock(views, (offset + starts).astype(np.int64)) if len(views) else None


#: RMS frames of the onset search, in seconds
ONSET_FRAME_S = 0.005
#: the onset is the first frame within this many dB of the loudest frame of the searched audio
ONSET_BELOW_PEAK_DB = 30.0
#: and starts this long before that frame, so that the attack is never cut
ONSET_LEAD_S = 0.005
#: how far into a recording the onset is looked for
ONSET_SEARCH_S = 2.0


class OnsetSlicer:
    """Makes one example of a one-shot recording: the window from its onset, zero-padded at the end.

    This is "first slice, pad end": a kick of 0.05 s and a cymbal of 12 s each give one example,
    starting where the sound starts (the first 5-ms frame within 30 dB of the loudest one in the
    first ONSET_SEARCH_S seconds, less 5 ms). The same interface as `Windower`.
    """

    def __init__(self, window: int, sample_rate: int, silence_db: Optional[float] = None):
        self.window = window
        self.sample_rate = sample_rate
        self.silence_db = silence_db

    def windows(self, chunks: Iterable[np.ndarray], counts: WindowCounts) -> Iterator[WindowBlock]:
        """Yields one block holding the item's one example (or none when it is silent); fills in `counts`."""
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
    """Returns where the sound in `audio` starts: ONSET_LEAD_S before its first frame near the loudest."""
    frame = max(1, int(ONSET_FRAME_S * sample_rate))
    count = len(audio) // frame
    if count == 0:
        return 0
    energy = np.einsum("kf,kf->k", audio[: count * frame].reshape(count, frame),
                       audio[: count * frame].reshape(count, frame)) / frame
    peak = float(energy.max())
    if peak <= 0.0:
        return 0
    first = int(np.argmax(energy >= peak * 10.0 ** (-ONSET_BELOW_PEAK_DB / 10.0)))
    return max(0, first * frame - int(ONSET_LEAD_S * sample_rate))

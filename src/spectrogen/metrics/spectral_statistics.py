"""Classifier-free statistics of spectrograms: what a listener checks, with no feature network to fool.

- `lattice_peak_ratio`: how far the power spectrum of the images stands out on the lattice that
  stride-2 up-sampling layers leave (a checkerboard); about 1 for real spectrograms.
- On spectrograms in dB (N, F, T), lowest frequency at row 0 (`summarise_db`, `compare_db`): the
  level and spread of each frequency row, silent frames and silent gaps in mid-clip (one threshold,
  set by the real data, for both sets: `silence_threshold_db`), and tonal structure (harmonic lines
  above the local floor of the spectrum).

Everything is computed in float64, in chunks where the arrays may be large.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

# the last three stride-2 layers of a generator leave patterns of period 2, 4 and 8 pixels, whose
# power lies on the bins that are multiples of side/8
LATTICE_DIVISIONS = 8
# below this side an image has no room for period 8 (nor 4): only the period-2 bins are looked at
MIN_LATTICE_SIDE = 16
FFT_CHUNK = 64  # images transformed at once: bounds the complex float64 copies to a few tens of MB
# power below this share of the mean bin power is rounding noise: a ratio of two such values says nothing
POWER_FLOOR = 1e-12
# magnitudes below this (-120 dB) are digital silence: log_eps features cannot go lower
MAGNITUDE_FLOOR = 1e-6
# a frame this far below the loud frames of the real data is silence to a listener (the range from a
# loud clip to a quiet room)
SILENCE_BELOW_DB = 60.0
# "the loud frames" are the real frames' 99th percentile: robust to a few clicks, unlike the maximum
LOUD_PERCENTILE = 99.0
# a frame within this of the darkest frame the evaluation space can hold is as silent as a generator can
# draw there: a per-frequency normalised space (mean - 3 std at its floor) may reach only 30 dB below the
# loud frames, and its black blocks would otherwise never count as silence
DARKEST_MARGIN_DB = 3.0
# bins of the running median that estimates the spectrum's floor: wider than a harmonic line (1 to 3
# bins), so the median is the floor beside a line, not the line
FLOOR_MEDIAN_BINS = 7
# [1, 2, 1] / 4 along frequency before the floor is measured: keeps a line's area, removes any
# pattern of period 2 (an up-sampling checkerboard would otherwise read as dense tonal lines)
SMOOTHING = np.array([0.25, 0.5, 0.25])


def _images(x) -> np.ndarray:
    """Returns x (N, 1, H, W) or (N, H, W) as float64 (N, H, W)."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 4:
        array = array[:, 0]
    if array.ndim != 3:
        raise ValueError(f"expected images shaped (N, H, W) or (N, 1, H, W), got {np.shape(x)}")
    return array


def _lattice_indices(side: int) -> np.ndarray:
    """Returns the FFT bins of one axis that periods of side/8 pixels (side/2 for small sides) fall on."""
    divisions = LATTICE_DIVISIONS if side >= MIN_LATTICE_SIDE else 2
    return np.unique(np.round(np.arange(divisions) * side / divisions).astype(int) % side)


def lattice_peak_ratio(x) -> float:
    """Returns the mean over lattice bins of the power there over the power of the bins beside it.

    x: images (N, 1, H, W) or (N, H, W). Each image loses its mean; the power spectra |FFT|^2 are
    averaged over images, P (H, W). The lattice bins are (i H/8, j W/8), i, j in 0..7, not both 0:
    where the patterns of period 2, 4 and 8 pixels that the last three stride-2 layers leave put
    their power (spacing side/2 for sides under 16). Each bin's power is divided by the mean of its
    neighbours (circularly): on the frequency axis of the spectrum (a column or row through 0) only
    by the neighbours along that axis, because stationary lines and sudden onsets put their power
    on those axes, so a real spectrogram's axis bins are large beside the bins off the axis.

    The mean rather than the median over bins: a checkerboard lights only some lattice bins (one
    for a pure (-1)^(i+j) pattern, 15 of 63 for periods 2 and 4), and the median of 63 ratios
    would not see it. About 1 for real spectrograms (a few percent above 1 for small sets: each
    bin's power is an average over only N images); far above 1 with a checkerboard. The figure
    does not change when the images are scaled. Constant images, which have no power anywhere,
    give 1.0: nothing stands out.
    """
    images = np.asarray(x)
    power = np.zeros(images.shape[-2:])  # (H, W)
    for start in range(0, len(images), FFT_CHUNK):
        chunk = _images(images[start:start + FFT_CHUNK])  # (n, H, W)
        chunk = chunk - chunk.mean(axis=(1, 2), keepdims=True)
        power += (np.abs(np.fft.fft2(chunk)) ** 2).sum(axis=0)
    power /= max(len(images), 1)
    if not np.any(power > 0):
        return 1.0
    floor = POWER_FLOOR * power.mean()
    height, width = power.shape
    ratios = []
    for u in _lattice_indices(height):
        for v in _lattice_indices(width):
            if u == 0 and v == 0:
                continue
            beside_rows = [power[(u - 1) % height, v], power[(u + 1) % height, v]]
            beside_columns = [power[u, (v - 1) % width], power[u, (v + 1) % width]]
            if v == 0:
                beside = beside_rows
            elif u == 0:
                beside = beside_columns
            else:
                beside = beside_rows + beside_columns
            ratios.append((power[u, v] + floor) / (np.mean(beside) + floor))
    return float(np.mean(ratios)) if ratios else 1.0


def frame_levels_db(db: np.ndarray) -> np.ndarray:
    """Returns the level of each frame (N, T) in dB: 10 log10 of the mean power over frequency of `db` (N, F, T)."""
    db = np.asarray(db, dtype=np.float64)
    loudest = db.max(axis=1, keepdims=True)  # (N, 1, T): factored out, so that 10^(dB/10) cannot overflow
    return loudest[:, 0] + 10.0 * np.log10(np.mean(10.0 ** ((db - loudest) / 10.0), axis=1))


def mid_clip_gaps(silent: np.ndarray) -> np.ndarray:
    """Returns for each example (N,) whether a silent frame of `silent` (N, T) has a sounding frame after it."""
    silent = np.asarray(silent, dtype=bool)
    sounding_later = np.flip(np.logical_or.accumulate(np.flip(~silent, axis=1), axis=1), axis=1)  # (N, T)
    later = np.zeros_like(silent)
    later[:, :-1] = sounding_later[:, 1:]
    return np.any(silent & later, axis=1)


def _running_median(profile: np.ndarray, width: int) -> np.ndarray:
    """Returns the median of each `width` bins around each bin of `profile` (N, F), edges repeated."""
    half = width // 2
    padded = np.pad(profile, ((0, 0), (half, half)), mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width, axis=1), axis=-1)


def tonal_prominence_db(db: np.ndarray) -> np.ndarray:
    """Returns for each example (N,) the mean height in dB of its spectrum above the local floor.

    The spectrum is the time-average of `db` (N, F, T), smoothed along frequency by [1, 2, 1] / 4;
    the floor a 7-bin running median of it. Harmonic lines stand above the floor; broadband noise,
    a spectral tilt and a period-2 checkerboard give about 0.
    """
    profile = np.asarray(db, dtype=np.float64).mean(axis=2)  # (N, F)
    padded = np.pad(profile, ((0, 0), (1, 1)), mode="edge")
    smooth = SMOOTHING[0] * padded[:, :-2] + SMOOTHING[1] * padded[:, 1:-1] + SMOOTHING[2] * padded[:, 2:]
    above = smooth - _running_median(smooth, FLOOR_MEDIAN_BINS)
    return np.clip(above, 0.0, None).mean(axis=1)


@dataclass
class DecibelSummary:
    """What the dB figures compare, of one set of spectrograms (N, F, T)."""

    mean_db: np.ndarray  # (F,) level of each frequency row, over examples and frames
    std_db: np.ndarray  # (F,) its spread
    tonal_db: float  # mean height of the spectrum above its local floor
    frame_levels: np.ndarray  # (N, T) level of each frame, in dB

    def silence(self, silence_below: float) -> tuple[float, float]:
        """Returns (share of frames below `silence_below` dB, share of examples with such a frame that sound follows)."""
        silent = self.frame_levels < silence_below  # (N, T)
        return float(silent.mean()), float(mid_clip_gaps(silent).mean())

    def profiles(self) -> dict[str, list[float]]:
        """Returns the per-frequency mean and spread as lists rounded to 0.01 dB."""
        return {"mean_db": np.round(self.mean_db, 2).tolist(), "std_db": np.round(self.std_db, 2).tolist()}


def summarise_db(db: np.ndarray | Iterable[np.ndarray]) -> DecibelSummary:
    """Returns the DecibelSummary of spectrograms in dB (N, F, T), or of a sequence of such chunks.

    Chunks keep memory bounded: only per-frequency sums, the frame levels (N, T) and one figure per
    example are kept between them.
    """
    chunks = [db] if isinstance(db, np.ndarray) else db
    total = squares = None
    count, levels, tonal = 0, [], []
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float64)  # (n, F, T)
        sums, sums_of_squares = chunk.sum(axis=(0, 2)), np.square(chunk).sum(axis=(0, 2))  # (F,)
        total = sums if total is None else total + sums
        squares = sums_of_squares if squares is None else squares + sums_of_squares
        count += chunk.shape[0] * chunk.shape[2]
        levels.append(frame_levels_db(chunk))
        tonal.append(tonal_prominence_db(chunk))
    if not count:
        raise ValueError("no spectrograms to summarise")
    mean = total / count
    std = np.sqrt(np.clip(squares / count - mean ** 2, 0.0, None))
    return DecibelSummary(mean, std, float(np.concatenate(tonal).mean()), np.concatenate(levels))


def silence_threshold_db(real: DecibelSummary, darkest_db: float | None = None) -> float:
    """Returns the frame level below which a frame is silent: 60 dB below the real frames' 99th percentile,
    or 3 dB above `darkest_db` (the level of the darkest frame the arrays can hold) when that is higher."""
    threshold = float(np.percentile(real.frame_levels, LOUD_PERCENTILE) - SILENCE_BELOW_DB)
    return threshold if darkest_db is None else max(threshold, float(darkest_db) + DARKEST_MARGIN_DB)


def compare_db(fake: DecibelSummary, real: DecibelSummary, silence_below: float) -> dict[str, float]:
    """Returns the dB columns of generated spectrograms against real ones (their summaries), frames below
    `silence_below` dB counting as silent in both."""
    if fake.mean_db.shape != real.mean_db.shape:
        raise ValueError(f"{len(fake.mean_db)} frequency rows against {len(real.mean_db)}: compare one grid")
    silent_frames, silent_mid = fake.silence(silence_below)
    silent_frames_real, silent_mid_real = real.silence(silence_below)
    return {"level_db_distance": float(np.abs(fake.mean_db - real.mean_db).mean()),
            "spread_db_distance": float(np.abs(fake.std_db - real.std_db).mean()),
            "silent_frames": silent_frames, "silent_frames_real": silent_frames_real,
            "silent_mid": silent_mid, "silent_mid_real": silent_mid_real,
            "tonal_db": fake.tonal_db, "tonal_db_real": real.tonal_db,
            "tonal_ratio": fake.tonal_db / real.tonal_db if real.tonal_db > 0 else float("nan")}


def magnitude_db(magnitude) -> np.ndarray:
    """Returns 20 log10 of a magnitude array, floored at -120 dB (digital silence)."""
    return 20.0 * np.log10(np.maximum(np.asarray(magnitude, dtype=np.float64), MAGNITUDE_FLOOR))

"""Classifier-free statistics of spectrograms: the power on the lattice that stride-2 up-sampling leaves (a
checkerboard), and in dB (N, F, T) each frequency row's level and spread, silent frames and mid-clip gaps, and
harmonic lines above the spectrum's local floor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

# the last three stride-2 layers leave periods of 2, 4 and 8 pixels: power on multiples of side/8 (side/2
# below MIN_LATTICE_SIDE, which has no room for period 8)
LATTICE_DIVISIONS = 8
MIN_LATTICE_SIDE = 16
FFT_CHUNK = 64  # images transformed at once: bounds the complex float64 copies
POWER_FLOOR = 1e-12  # of the mean bin power: below it is rounding noise
MAGNITUDE_FLOOR = 1e-6  # -120 dB, digital silence: log_eps features cannot go lower
# a frame this far below the real data's loud frames (their 99th percentile, robust to clicks) is silence
SILENCE_BELOW_DB = 60.0
LOUD_PERCENTILE = 99.0
# a frame within this of the darkest frame the evaluation space holds is as silent as a generator can draw
# there (a per-frequency normalised space may reach only 30 dB below the loud frames)
DARKEST_MARGIN_DB = 3.0
# the spectrum's floor is a running median wider than a harmonic line (1 to 3 bins), taken after a
# [1, 2, 1] / 4 smoothing that keeps a line's area and removes a period-2 checkerboard
FLOOR_MEDIAN_BINS = 7
SMOOTHING = np.array([0.25, 0.5, 0.25])


def _images(x) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 4:
        array = array[:, 0]
    if array.ndim != 3:
        raise ValueError(f"expected images shaped (N, H, W) or (N, 1, H, W), got {np.shape(x)}")
    return array


def _lattice_indices(side: int) -> np.ndarray:
    # the FFT bins of one axis that periods of side/8 pixels (side/2 for small sides) fall on
    divisions = LATTICE_DIVISIONS if side >= MIN_LATTICE_SIDE else 2
    return np.unique(np.round(np.arange(divisions) * side / divisions).astype(int) % side)


def lattice_peak_ratio(x) -> float:
    """Returns the mean over lattice bins (i H/8, j W/8), not both 0, of the mean-free images' power there over
    that of the bins beside it, of x (N, [1,] H, W): about 1 for real spectrograms, far above with a checkerboard.
    Bins on an axis through 0 are compared along that axis only (stationary lines and onsets make a real
    spectrogram's axis bins large); the mean, since a checkerboard lights only some lattice bins."""
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
            beside = (([power[(u - 1) % height, v], power[(u + 1) % height, v]] if u else [])
                      + ([power[u, (v - 1) % width], power[u, (v + 1) % width]] if v else []))
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


def tonal_prominence_db(db: np.ndarray) -> np.ndarray:
    """Returns for each example (N,) the mean height in dB of its time-averaged spectrum (smoothed) above the
    local floor: harmonic lines stand above it; noise, a tilt and a period-2 checkerboard give about 0."""
    profile = np.asarray(db, dtype=np.float64).mean(axis=2)  # (N, F)
    padded = np.pad(profile, ((0, 0), (1, 1)), mode="edge")
    smooth = SMOOTHING[0] * padded[:, :-2] + SMOOTHING[1] * padded[:, 1:-1] + SMOOTHING[2] * padded[:, 2:]
    # the floor: the median of the FLOOR_MEDIAN_BINS bins around each bin, edges repeated
    around = np.pad(smooth, ((0, 0), (FLOOR_MEDIAN_BINS // 2, FLOOR_MEDIAN_BINS // 2)), mode="edge")
    above = smooth - np.median(np.lib.stride_tricks.sliding_window_view(around, FLOOR_MEDIAN_BINS, axis=1), axis=-1)
    return np.clip(above, 0.0, None).mean(axis=1)


@dataclass
class DecibelSummary:
    """What the dB figures compare, of one set of spectrograms (N, F, T)."""

    mean_db: np.ndarray  # (F,) level of each frequency row, over examples and frames
    std_db: np.ndarray  # (F,) its spread
    tonal_db: float  # mean height of the spectrum above its local floor
    frame_levels: np.ndarray  # (N, T) level of each frame, in dB

    def silence(self, silence_below: float) -> tuple[float, float]:
        """Returns (share of silent frames, share of examples with a silent frame that sound follows)."""
        silent = self.frame_levels < silence_below  # (N, T)
        return float(silent.mean()), float(mid_clip_gaps(silent).mean())

    def profiles(self) -> dict[str, list[float]]:
        """Returns the per-frequency mean and spread as lists rounded to 0.01 dB."""
        return {"mean_db": np.round(self.mean_db, 2).tolist(), "std_db": np.round(self.std_db, 2).tolist()}


def summarise_db(db: np.ndarray | Iterable[np.ndarray]) -> DecibelSummary:
    """Returns the DecibelSummary of spectrograms in dB (N, F, T), or of a sequence of such chunks."""
    chunks = [db] if isinstance(db, np.ndarray) else db
    total = squares = 0.0
    count, levels, tonal = 0, [], []
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float64)  # (n, F, T)
        total = total + chunk.sum(axis=(0, 2))  # (F,)
        squares = squares + np.square(chunk).sum(axis=(0, 2))
        count += chunk.shape[0] * chunk.shape[2]
        levels.append(frame_levels_db(chunk))
        tonal.append(tonal_prominence_db(chunk))
    if not count:
        raise ValueError("no spectrograms to summarise")
    mean = total / count
    std = np.sqrt(np.clip(squares / count - mean ** 2, 0.0, None))
    return DecibelSummary(mean, std, float(np.concatenate(tonal).mean()), np.concatenate(levels))


def silence_threshold_db(real: DecibelSummary, darkest_db: float | None = None) -> float:
    """Returns the frame level below which a frame is silent: 60 dB below the real frames' 99th percentile, or
    3 dB above `darkest_db` (the darkest frame the arrays can hold) when that is higher."""
    threshold = float(np.percentile(real.frame_levels, LOUD_PERCENTILE) - SILENCE_BELOW_DB)
    return threshold if darkest_db is None else max(threshold, float(darkest_db) + DARKEST_MARGIN_DB)


def compare_db(fake: DecibelSummary, real: DecibelSummary, silence_below: float) -> dict[str, float]:
    """Returns the dB columns of generated against real spectrograms' summaries, silent below `silence_below` dB."""
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

"""Phase-gradient heap integration (PGHI; Prusa, Balazs & Sondergaard 2017): a phase for a magnitude. For a Gaussian
window exp(-pi n^2 / lambda) (Hann of L samples: lambda = 0.25645 L^2) the phase's derivatives follow from the
log-magnitude (centre-referenced, x in samples, omega in cycles per sample):

    d phase / dx = (1 / lambda) d log|X| / d omega + 2 pi omega,    d phase / domega = -lambda d log|X| / dx

Integrating from the loudest bin reached (a max-heap) follows the ridges before the valleys; bins far below the peak
keep their given random phase. Compiled with numba (GIL released), one clip at a time."""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

HANN_LAMBDA = 0.25645
# bins more than this far below the clip's loudest (as a magnitude ratio) keep their given phase
RELATIVE_TOLERANCE = 1e-5
# floor of the magnitudes before the log (a bin of exactly zero)
_TINY = 1e-12


def pghi_phase(magnitude: torch.Tensor, n_fft: int, hop_length: int, win_length: int,
               initial_turns: torch.Tensor | None = None) -> torch.Tensor:
    """Returns phases in radians (N, T, K) for magnitudes (N, T, K) (Nyquist row optional); `initial_turns` (N, T, K),
    in turns, is the phase of the quiet bins the integration leaves alone (zero when None)."""
    mag = magnitude.detach().to("cpu", torch.float64).numpy()  # (N, T, K)
    given = (np.zeros_like(mag) if initial_turns is None
             else initial_turns.detach().to("cpu", torch.float64).numpy() * (2 * math.pi))
    log_mag = np.log(np.maximum(mag, _TINY))
    time_step, bin_step = phase_steps(log_mag, n_fft, hop_length, win_length)
    phase = np.empty_like(mag)
    for i in range(mag.shape[0]):
        phase[i] = _integrate(log_mag[i], time_step[i], bin_step[i], given[i], math.log(RELATIVE_TOLERANCE))
    # from the window's centre (n_fft / 2 into the frame) to the frame's start: a factor exp(-i pi k)
    phase -= math.pi * np.arange(mag.shape[-1])
    return torch.from_numpy(phase).to(magnitude.device, torch.float32)


def phase_steps(log_mag: np.ndarray, n_fft: int, hop_length: int, win_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (phase step per frame, phase step per bin), each like `log_mag` (N, T, K), centre-referenced."""
    lam = HANN_LAMBDA * win_length * win_length
    bins = np.arange(log_mag.shape[-1])
    along_bins = np.gradient(log_mag, axis=-1) if log_mag.shape[-1] > 1 else np.zeros_like(log_mag)
    along_frames = np.gradient(log_mag, axis=-2) if log_mag.shape[-2] > 1 else np.zeros_like(log_mag)
    per_frame = hop_length * (n_fft / lam * along_bins + 2 * math.pi * bins / n_fft)
    per_bin = -lam / (n_fft * hop_length) * along_frames
    return per_frame, per_bin


@numba.njit(cache=True, nogil=True)
def _integrate(log_mag, per_frame, per_bin, given, log_tolerance):  # pragma: no cover - compiled
    """Returns the integrated phase (T, K) of one clip; quiet bins keep `given`."""
    frames, bins = log_mag.shape
    size = frames * bins
    loudness, frame_step, bin_step = log_mag.ravel(), per_frame.ravel(), per_bin.ravel()
    phase = given.copy().ravel()
    done = loudness < loudness.max() + log_tolerance
    # a max-heap of bins by loudness, as two arrays (faster than a heap of tuples)
    keys = np.empty(size)
    items = np.empty(size, np.int64)
    while True:
        # a new island of loud bins starts at its loudest, which keeps the phase it was given
        seed, loudest = -1, -np.inf
        for node in range(size):
            if not done[node] and loudness[node] > loudest:
                seed, loudest = node, loudness[node]
        if seed < 0:
            break
        done[seed] = True
        keys[0], items[0], count = loudest, seed, 1
        while count:
            node, count = _pop(keys, items, count)
            frame, row = node // bins, node % bins
            for direction in range(4):  # the next frame, the previous frame, the next bin, the previous bin
                forward = direction % 2 == 0
                if direction < 2:
                    edge, offset, steps = frame == (frames - 1 if forward else 0), bins, frame_step
                else:
                    edge, offset, steps = row == (bins - 1 if forward else 0), 1, bin_step
                other = node + offset if forward else node - offset
                if edge or done[other]:
                    continue
                step = 0.5 * (steps[node] + steps[other])
                phase[other] = phase[node] + (step if forward else -step)  # the trapezoidal rule
                done[other] = True
                count = _push(keys, items, count, loudness[other], other)
    return phase.reshape(frames, bins)


@numba.njit(cache=True, nogil=True, inline="always")
def _push(keys, items, count, key, item):  # pragma: no cover - compiled
    """Adds `item` with `key` to the max-heap of `count` entries; returns the new count."""
    slot = count
    while slot > 0:
        parent = (slot - 1) // 2
        if keys[parent] >= key:
            break
        keys[slot], items[slot] = keys[parent], items[parent]
        slot = parent
    keys[slot], items[slot] = key, item
    return count + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _pop(keys, items, count):  # pragma: no cover - compiled
    """Removes the loudest item of the max-heap of `count` entries; returns (item, new count)."""
    top = items[0]
    count -= 1
    if count:
        key, item = keys[count], items[count]
        slot = 0
        while True:
            child = 2 * slot + 1
            if child >= count:
                break
            if child + 1 < count and keys[child + 1] > keys[child]:
                child += 1
            if keys[child] <= key:
                break
            keys[slot], items[slot] = keys[child], items[child]
            slot = child
        keys[slot], items[slot] = key, item
    return top, count

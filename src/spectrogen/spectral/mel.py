"""Mel scale of a linear magnitude spectrogram and its least-squares inverse.

The filter bank is librosa's (Slaney mel scale, area-normalised triangles), so features match the
ones most audio code computes. The inverse is the minimum-norm least-squares solution through the
filter bank's pseudo-inverse, computed once in float64 and kept as a buffer, clamped at zero
because magnitudes are non-negative: one matrix product per batch, no iterative solver.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from spectrogen.errors import ConfigError


def mel_filter_bank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                    fmax: float | None = None) -> torch.Tensor:
    """Returns librosa's mel filter bank (n_mels, n_fft // 2 + 1) as float32."""
    fmax = sample_rate / 2 if fmax is None else fmax
    check_mel_range(sample_rate, n_mels, fmin, fmax)
    return _mel_matrices(sample_rate, n_fft, n_mels, float(fmin), float(fmax))[0].clone()


def mel_pseudo_inverse_bank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                            fmax: float | None = None) -> torch.Tensor:
    """Returns the pseudo-inverse (n_fft // 2 + 1, n_mels) of librosa's mel filter bank, float32."""
    fmax = sample_rate / 2 if fmax is None else fmax
    check_mel_range(sample_rate, n_mels, fmin, fmax)
    return _mel_matrices(sample_rate, n_fft, n_mels, float(fmin), float(fmax))[1].clone()


@lru_cache(maxsize=8)
def _mel_matrices(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                  fmax: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns the filter bank and its pseudo-inverse, built once per setting (the SVD is the slow part)."""
    import librosa.filters  # imported here: librosa is slow to import and only needed to build

    bank = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)
    # numpy's SVD: torch's threaded one was measured 100x slower on a busy 2-core machine
    inverse = np.linalg.pinv(bank)
    return torch.from_numpy(bank).float(), torch.from_numpy(inverse).float()


def check_mel_range(sample_rate: int, n_mels: int, fmin: float, fmax: float) -> None:
    """Raises ConfigError unless n_mels >= 1 and 0 <= fmin < fmax <= sample_rate / 2."""
    if n_mels < 1:
        raise ConfigError(f"representation.n_mels={n_mels}: use at least 1")
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ConfigError(
            f"representation.fmin={fmin}, fmax={fmax}: need 0 <= fmin < fmax <= sample_rate/2 "
            f"({sample_rate / 2:g} Hz)"
        )


def mel_scale(spectrogram: torch.Tensor, filter_bank: torch.Tensor) -> torch.Tensor:
    """Returns the mel spectrogram (..., n_mels, T) of a linear one (..., n_freq, T)."""
    return torch.matmul(filter_bank, spectrogram)


def inverse_mel_scale(mel: torch.Tensor, pseudo_inverse: torch.Tensor) -> torch.Tensor:
    """Returns the non-negative least-squares linear spectrogram (..., n_freq, T) of `mel` (..., n_mels, T)."""
    return torch.matmul(pseudo_inverse, mel).clamp_min(0.0)


class MelScale(nn.Module):
    """Linear magnitude (..., n_fft // 2 + 1, T) -> mel magnitude (..., n_mels, T)."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                 fmax: float | None = None):
        super().__init__()
        self.register_buffer("filter_bank", mel_filter_bank(sample_rate, n_fft, n_mels, fmin, fmax),
                             persistent=False)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return mel_scale(spectrogram, self.filter_bank)


class InverseMelScale(nn.Module):
    """Mel magnitude (..., n_mels, T) -> linear magnitude (..., n_fft // 2 + 1, T) by least squares."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                 fmax: float | None = None):
        super().__init__()
        self.register_buffer("pseudo_inverse", mel_pseudo_inverse_bank(sample_rate, n_fft, n_mels, fmin, fmax),
                             persistent=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return inverse_mel_scale(mel, self.pseudo_inverse)

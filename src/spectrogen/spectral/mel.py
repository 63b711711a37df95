"""Mel scale of a linear magnitude spectrogram (librosa's filter bank: Slaney, area-normalised) and its inverse: the
non-negative least-squares linear magnitude, the pseudo-inverse's solution clamped at zero and then refined by
NNLS_ITERATIONS projected-gradient (FISTA) steps, which fill in the comb of zeros the clamp leaves between the
triangles' peaks."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from spectrogen.errors import ConfigError

NNLS_ITERATIONS = 20


def mel_filter_bank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                    fmax: float | None = None) -> torch.Tensor:
    """Returns librosa's mel filter bank (n_mels, n_fft // 2 + 1) as float32."""
    return mel_matrices(sample_rate, n_fft, n_mels, fmin, fmax)[0]


def mel_matrices(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                 fmax: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns copies of the filter bank (n_mels, K) and its pseudo-inverse (K, n_mels), K = n_fft // 2 + 1."""
    fmax = sample_rate / 2 if fmax is None else fmax
    check_mel_range(sample_rate, n_mels, fmin, fmax)
    return tuple(m.clone() for m in _mel_matrices(sample_rate, n_fft, n_mels, float(fmin), float(fmax)))


@lru_cache(maxsize=8)
def _mel_matrices(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                  fmax: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns the filter bank and its pseudo-inverse, built once per setting (the SVD is the slow part)."""
    import librosa.filters  # librosa is slow to import and only needed to build

    bank = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)
    inverse = np.linalg.pinv(bank)  # numpy's SVD: torch's threaded one is far slower on a busy machine
    return torch.from_numpy(bank).float(), torch.from_numpy(inverse).float()


def check_mel_range(sample_rate: int, n_mels: int, fmin: float, fmax: float) -> None:
    """Raises ConfigError unless n_mels >= 1 and 0 <= fmin < fmax <= sample_rate / 2."""
    if n_mels < 1:
        raise ConfigError(f"representation.n_mels={n_mels}: use at least 1")
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ConfigError(f"representation.fmin={fmin}, fmax={fmax}: need 0 <= fmin < fmax <= sample_rate/2 "
                          f"({sample_rate / 2:g} Hz)")


def mel_scale(spectrogram: torch.Tensor, filter_bank: torch.Tensor) -> torch.Tensor:
    """Returns the mel spectrogram (..., n_mels, T) of a linear one (..., n_freq, T)."""
    return torch.matmul(filter_bank, spectrogram)


def inverse_mel_scale(mel: torch.Tensor, pseudo_inverse: torch.Tensor, filter_bank: torch.Tensor | None = None,
                      iterations: int = 0, step: float | None = None) -> torch.Tensor:
    """Returns the non-negative least-squares linear spectrogram (..., n_freq, T) of `mel` (..., n_mels, T), refined
    (given `filter_bank`) by `iterations` FISTA steps of size `step` (default `nnls_step`)."""
    estimate = torch.matmul(pseudo_inverse, mel).clamp_min(0.0)
    if filter_bank is None or iterations < 1:
        return estimate
    step = nnls_step(filter_bank) if step is None else step
    transposed = filter_bank.transpose(0, 1)
    point, momentum = estimate, 1.0
    for _ in range(iterations):
        residual = torch.matmul(filter_bank, point) - mel  # (..., n_mels, T)
        updated = (point - step * torch.matmul(transposed, residual)).clamp_min(0.0)
        following = (1.0 + (1.0 + 4.0 * momentum * momentum) ** 0.5) / 2.0
        point = updated + ((momentum - 1.0) / following) * (updated - estimate)
        estimate, momentum = updated, following
    return estimate


def nnls_step(filter_bank: torch.Tensor) -> float:
    """Returns 1 / ||filter_bank||_2^2, the step size of projected gradient that never diverges."""
    return 1.0 / float(torch.linalg.matrix_norm(filter_bank.double(), ord=2)) ** 2


class MelScale(nn.Module):
    """Linear magnitude (..., n_fft // 2 + 1, T) -> mel magnitude (..., n_mels, T)."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                 fmax: float | None = None):
        super().__init__()
        self.register_buffer("filter_bank", mel_filter_bank(sample_rate, n_fft, n_mels, fmin, fmax), persistent=False)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return mel_scale(spectrogram, self.filter_bank)


class InverseMelScale(nn.Module):
    """Mel magnitude (..., n_mels, T) -> linear magnitude (..., n_fft // 2 + 1, T) by non-negative least squares."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                 fmax: float | None = None, iterations: int | None = None):
        super().__init__()
        bank, pseudo_inverse = mel_matrices(sample_rate, n_fft, n_mels, fmin, fmax)
        self.register_buffer("pseudo_inverse", pseudo_inverse, persistent=False)
        self.register_buffer("filter_bank", bank, persistent=False)
        self.iterations = NNLS_ITERATIONS if iterations is None else iterations
        self.step = nnls_step(self.filter_bank)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return inverse_mel_scale(mel, self.pseudo_inverse, self.filter_bank, self.iterations, self.step)

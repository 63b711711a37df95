"""Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013): audio from a magnitude spectrogram.

Batched over every leading axis and framed like :mod:`spectrogen.spectral.stft` (pad_end). Input is
a magnitude (power 1), as SpecGAN's spectra are; torchaudio's GriffinLim defaults to power 2.

When the Nyquist row was dropped, the missing row is left free: each iteration keeps the
Nyquist row of the re-analysed signal instead of forcing it to a guessed magnitude.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn

from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral.stft import (check_framing, inverse_envelope, overlap_add, padded_length,
                                      periodic_hann)

PhaseInit = Literal["random", "zeros"]

# Added to |X|^2 so that a bin of exactly zero gets a zero estimate rather than a division by zero.
_TINY = 1e-30

# Examples iterated together on CPU: small groups keep the working set in cache (measured about
# 25% faster per clip than one group of 32 at SpecGAN's size); a GPU takes the whole batch.
_CPU_GROUP = 8


def griffin_lim(magnitude: torch.Tensor, window: torch.Tensor, hop_length: int, *,
                num_samples: int | None = None, n_iter: int = 32, momentum: float = 0.99,
                init: PhaseInit = "random", generator: torch.Generator | None = None,
                nyquist_dropped: bool = False) -> torch.Tensor:
    """Returns audio (..., num_samples) whose STFT magnitude approximates `magnitude` (..., F, T).

    `window` (n_fft,) is the analysis window; F is n_fft // 2 + 1, or n_fft // 2 when
    `nyquist_dropped`. `num_samples` defaults to T * hop_length. The random initial phase is drawn
    from `generator` (on the generator's device), so a seed reproduces the result; ``init="zeros"``
    needs no generator. Examples are independent: a batch gives what each example alone gives.
    """
    n_fft = window.shape[-1]
    expected = n_fft // 2 + (0 if nyquist_dropped else 1)
    if magnitude.dim() < 2 or magnitude.shape[-2] != expected:
        raise InputError(
            f"griffin_lim: magnitude shaped {tuple(magnitude.shape)} has the wrong number of frequency "
            f"rows; n_fft={n_fft} {'without' if nyquist_dropped else 'with'} the Nyquist row needs {expected}"
        )
    frames = magnitude.shape[-1]
    num_samples = frames * hop_length if num_samples is None else num_samples
    # time-major (N, T, K) inside the loop: each FFT then runs over contiguous memory
    target = magnitude.float().reshape(-1, *magnitude.shape[-2:]).transpose(1, 2)
    if nyquist_dropped:
        # a zero row to start; the loop replaces it by the re-analysed signal's own row
        target = torch.cat([target, torch.zeros_like(target[..., :1])], dim=-1)
    target = target.contiguous()
    spectrum = _initial_spectrum(target, init, generator)  # (N, T, K) complex
    scale = inverse_envelope(window, hop_length, frames)  # (L,)
    # pad_end analysis sees zeros after the clip: keep the estimate zero there too
    scale[num_samples:] = 0.0

    def run(start: int) -> torch.Tensor:
        stop = start + group
        return _iterate(spectrum[start:stop], target[start:stop], window, hop_length, scale, n_iter,
                        momentum / (1.0 + momentum), nyquist_dropped)

    group = _CPU_GROUP if target.device.type == "cpu" else max(1, target.shape[0])
    starts = range(0, target.shape[0], group)
    workers = min(torch.get_num_threads(), len(starts))
    if target.device.type == "cpu" and workers > 1:
        # One thread per group of examples, each op single-threaded: the ops are too small for
        # intra-op threads to pay for their synchronisation, which stalls badly on a busy machine.
        with _intra_op_threads(1), ThreadPoolExecutor(workers) as pool:
            pieces = list(pool.map(run, starts))
    else:
        pieces = [run(start) for start in starts]
    audio = torch.cat([target.new_zeros(0, scale.shape[0]), *pieces])  # (N, L)
    audio = audio[:, :num_samples]
    if audio.shape[-1] < num_samples:
        audio = F.pad(audio, (0, num_samples - audio.shape[-1]))
    return audio.reshape(*magnitude.shape[:-2], num_samples)


@contextmanager
def _intra_op_threads(count: int) -> Iterator[None]:
    """Sets torch's intra-op thread count for the duration of the block, then restores it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _iterate(spectrum: torch.Tensor, target: torch.Tensor, window: torch.Tensor, hop_length: int,
             scale: torch.Tensor, n_iter: int, accelerate: float, nyquist_dropped: bool) -> torch.Tensor:
    """Returns the signal (N, L) after `n_iter` accelerated projections from `spectrum` (N, T, K)."""
    n, frames, bins = target.shape
    n_fft = window.shape[-1]
    # Buffers reused by every iteration where an out= costs no extra copy (the FFTs copy their
    # result into `out`, so they allocate instead).
    frames_buffer = target.new_empty(n, frames, n_fft)
    audio = target.new_empty(n, padded_length(frames, n_fft, hop_length))
    previous = torch.zeros(n, frames, bins, dtype=torch.complex64, device=target.device)
    gain = torch.empty_like(target)
    spectrum = spectrum.clone()
    for _ in range(n_iter):
        _synthesise(spectrum, window, hop_length, scale, audio)
        rebuilt = torch.fft.rfft(torch.mul(audio.unfold(-1, n_fft, hop_length), window, out=frames_buffer))
        # Perraudin's acceleration, then projection onto the target magnitude
        torch.sub(torch.view_as_real(rebuilt), torch.view_as_real(previous), alpha=accelerate,
                  out=torch.view_as_real(spectrum))
        _set_magnitude(spectrum, target, gain)
        if nyquist_dropped:
            spectrum[:, :, -1] = rebuilt[:, :, -1]
        previous = rebuilt
    return _synthesise(spectrum, window, hop_length, scale, audio)


def _synthesise(spectrum: torch.Tensor, window: torch.Tensor, hop_length: int, scale: torch.Tensor,
                audio: torch.Tensor) -> torch.Tensor:
    """Returns `audio` (N, L), overwritten with the least-squares signal of spectrum (N, T, K)."""
    segments = torch.fft.irfft(spectrum, n=window.shape[-1]).mul_(window)  # (N, T, n_fft)
    return overlap_add(segments, hop_length, out=audio).mul_(scale)


def _set_magnitude(spectrum: torch.Tensor, target: torch.Tensor, gain: torch.Tensor) -> None:
    """Scales complex `spectrum` in place to magnitude `target`, keeping its phase."""
    pairs = torch.view_as_real(spectrum)
    real, imag = pairs[..., 0], pairs[..., 1]
    torch.mul(real, real, out=gain).addcmul_(imag, imag).add_(_TINY).rsqrt_().mul_(target)
    real.mul_(gain)
    imag.mul_(gain)


def _initial_spectrum(target: torch.Tensor, init: PhaseInit, generator: torch.Generator | None) -> torch.Tensor:
    """Returns `target` (N, T, K) with random or zero phase, as complex64."""
    if init not in ("random", "zeros"):
        raise ConfigError(f"griffin_lim init={init!r}: use 'random' or 'zeros'")
    spectrum = torch.zeros(target.shape, dtype=torch.complex64, device=target.device)
    pairs = torch.view_as_real(spectrum)
    if init == "zeros":
        pairs[..., 0] = target
        return spectrum
    device = generator.device if generator is not None else target.device
    turns = torch.rand(target.shape, generator=generator, device=device).to(target.device)
    angle = turns.mul_(2 * math.pi)
    pairs[..., 0] = torch.cos(angle) * target
    pairs[..., 1] = torch.sin(angle) * target
    return spectrum


class GriffinLim(nn.Module):
    """Magnitude (..., F, T) -> audio (..., S) by fast Griffin-Lim, pad_end framing."""

    def __init__(self, n_fft: int = 256, hop_length: int = 128, win_length: int | None = None,
                 n_iter: int = 32, momentum: float = 0.99, init: PhaseInit = "random",
                 nyquist_dropped: bool = True):
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        check_framing(n_fft, hop_length, win_length)
        if n_iter < 0:
            raise ConfigError(f"griffin_lim n_iter={n_iter}: use 0 or more iterations")
        if not 0.0 <= momentum < 1.0:
            # Perraudin et al.: momentum at or above 1 does not converge
            raise ConfigError(f"griffin_lim momentum={momentum}: use 0 <= momentum < 1 (0.99 is usual)")
        if init not in ("random", "zeros"):
            raise ConfigError(f"griffin_lim init={init!r}: use 'random' or 'zeros'")
        self.hop_length, self.n_iter, self.momentum, self.init = hop_length, n_iter, momentum, init
        self.nyquist_dropped = nyquist_dropped
        self.register_buffer("window", periodic_hann(n_fft, win_length), persistent=False)

    def forward(self, magnitude: torch.Tensor, num_samples: int | None = None,
                generator: torch.Generator | None = None, n_iter: int | None = None,
                init: PhaseInit | None = None) -> torch.Tensor:
        return griffin_lim(magnitude, self.window, self.hop_length, num_samples=num_samples,
                           n_iter=self.n_iter if n_iter is None else n_iter, momentum=self.momentum,
                           init=self.init if init is None else init, generator=generator,
                           nyquist_dropped=self.nyquist_dropped)

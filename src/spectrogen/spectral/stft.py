"""Short-time Fourier transform framed as SpecGAN's "pad_end" (``tf.signal.stft(..., pad_end=True)``, equal to
``librosa.stft(padded, center=False)``): frame `t` covers samples ``[t * hop, t * hop + n_fft)``, zeros padded at the
end only, so S samples give ``ceil(S / hop)`` frames; the window a periodic Hann of `win_length` samples centred in
`n_fft`, as in torch and librosa. And the divisor of its least-squares inverse, and the spectral convergence between
two magnitude spectrograms."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spectrogen.errors import ConfigError

# The inverse divides by the summed squared window, but never by less than this share of its value where frames
# fully overlap: the first samples, seen only through the first window's rising tail, would be multiplied by up to
# 1 / w[1], a spike in any spectrogram no signal has exactly (Griffin-Lim's estimates, a model's samples). With the
# floor they fade in; elsewhere the inverse is exact.
ENVELOPE_FLOOR = 0.5


def num_frames(num_samples: int, hop_length: int) -> int:
    """Returns the number of frames of a clip of `num_samples` samples under pad_end framing."""
    return max(1, math.ceil(num_samples / hop_length))


def padded_length(frames: int, n_fft: int, hop_length: int) -> int:
    """Returns the length the clip is zero-padded to so that `frames` full frames fit."""
    return (frames - 1) * hop_length + n_fft


def periodic_hann(n_fft: int, win_length: int | None = None) -> torch.Tensor:
    """Returns a periodic Hann window of `win_length` samples centred in `n_fft` samples, (n_fft,)."""
    win_length = n_fft if win_length is None else win_length
    check_framing(n_fft, hop_length=1, win_length=win_length)
    window = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
    left = (n_fft - win_length) // 2
    return F.pad(window, (left, n_fft - win_length - left)).float()


def check_framing(n_fft: int, hop_length: int, win_length: int) -> None:
    """Raises ConfigError unless 1 <= hop_length <= win_length <= n_fft (frames must overlap or touch)."""
    if n_fft < 2:
        raise ConfigError(f"representation.n_fft={n_fft}: use at least 2 samples")
    if not 1 <= win_length <= n_fft:
        raise ConfigError(f"representation.win_length={win_length}: use 1..n_fft ({n_fft})")
    if not 1 <= hop_length <= win_length:
        raise ConfigError(f"representation.hop_length={hop_length}: use 1..win_length ({win_length}); "
                          "a larger hop leaves samples that no frame covers")


def stft(audio: torch.Tensor, window: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Returns the complex pad_end STFT of `audio` (..., S) as (..., n_fft // 2 + 1, T); n_fft = len(window)."""
    n_fft = window.shape[-1]
    shape = audio.shape
    frames = num_frames(shape[-1], hop_length)
    flat = audio.reshape(-1, shape[-1])  # (N, S)
    flat = F.pad(flat, (0, padded_length(frames, n_fft, hop_length) - shape[-1]))
    # framed time-major (N, T, n_fft): every FFT runs over contiguous memory
    spec = torch.fft.rfft(flat.unfold(-1, n_fft, hop_length) * window).transpose(-1, -2)  # (N, n_fft // 2 + 1, T)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def overlap_add(segments: torch.Tensor, hop_length: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Returns the overlap-add (N, L) of segments (N, T, n_fft) placed `hop_length` apart, into `out` if given."""
    n, frames, n_fft = segments.shape
    length = padded_length(frames, n_fft, hop_length)
    if n_fft % hop_length:
        summed = F.fold(segments.transpose(1, 2), output_size=(1, length), kernel_size=(1, n_fft),
                        stride=(1, hop_length)).reshape(n, length)
        return summed if out is None else out.copy_(summed)
    # hop divides n_fft (the usual case): a few shifted block additions beat the generic fold
    parts = n_fft // hop_length
    out = segments.new_empty(n, length) if out is None else out
    blocks = out.view(n, frames + parts - 1, hop_length)
    pieces = segments.reshape(n, frames, parts, hop_length)
    blocks[:, :frames].copy_(pieces[:, :, 0])
    blocks[:, frames:].zero_()
    for k in range(1, parts):
        blocks[:, k:k + frames].add_(pieces[:, :, k])
    return out


def inverse_envelope(window: torch.Tensor, hop_length: int, frames: int) -> torch.Tensor:
    """Returns 1 / (summed squared window) at each of the L samples, the divisor at least ENVELOPE_FLOOR x
    its minimum under full overlap (a sample no frame covers stays 0 after the windowed overlap-add)."""
    n_fft = window.shape[-1]
    squares = window * window
    envelope = overlap_add(squares.expand(1, frames, n_fft), hop_length)[0]  # (L,)
    return 1.0 / envelope.clamp(min=ENVELOPE_FLOOR * full_overlap_envelope(squares, hop_length))


def full_overlap_envelope(squares: torch.Tensor, hop_length: int) -> float:
    """Returns the smallest summed squared window where frames overlap fully (squares: (n_fft,))."""
    padded = F.pad(squares, (0, -squares.shape[-1] % hop_length))
    return float(padded.reshape(-1, hop_length).sum(0).min())


class Spectrogram(nn.Module):
    """Magnitude STFT |X| of audio (..., S) -> (..., F, T), SpecGAN framing, Nyquist row optional."""

    def __init__(self, n_fft: int = 256, hop_length: int = 128, win_length: int | None = None,
                 drop_nyquist: bool = True):
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        check_framing(n_fft, hop_length, win_length)
        if drop_nyquist and n_fft % 2:
            raise ConfigError(f"representation.drop_nyquist needs an even n_fft, got {n_fft}")
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.drop_nyquist = drop_nyquist
        self.register_buffer("window", periodic_hann(n_fft, win_length), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return magnitude_spectrogram(audio, self.window, self.hop_length, self.drop_nyquist)


def magnitude_spectrogram(audio: torch.Tensor, window: torch.Tensor, hop_length: int,
                          drop_nyquist: bool) -> torch.Tensor:
    """Returns |STFT| of `audio` (..., S) as (..., F, T); F = n_fft // 2 when the Nyquist row is dropped."""
    spec = stft(audio, window, hop_length)
    # contiguous: the FFT leaves the result time-major in memory
    return complex_magnitude(spec[..., :-1, :] if drop_nyquist else spec).contiguous()


def complex_magnitude(spec: torch.Tensor) -> torch.Tensor:
    """Returns |spec| of a complex tensor: without autograd sqrt(re^2 + im^2) in place, within an ulp of `Tensor.abs`
    and faster on the CPU (audio needs no overflow-safe hypot); with autograd `abs`, defined at zero."""
    if spec.requires_grad or not spec.is_complex():
        return spec.abs()
    parts = torch.view_as_real(spec)
    real, imag = parts[..., 0], parts[..., 1]
    return (real * real).addcmul_(imag, imag).sqrt_()


def spectral_convergence(reference_mag: torch.Tensor, estimate_mag: torch.Tensor) -> torch.Tensor:
    """Returns || |S| - |S^| ||_F / || |S| ||_F per example, (...,) for magnitudes (..., F, T) (complex inputs: their
    absolute values). 0 is a perfect match; a silent reference gives inf (nan when the estimate is silent too)."""
    reference = reference_mag.abs().double()
    error = torch.linalg.matrix_norm(reference - estimate_mag.abs().double(), ord="fro")
    return (error / torch.linalg.matrix_norm(reference, ord="fro")).to(torch.float32)

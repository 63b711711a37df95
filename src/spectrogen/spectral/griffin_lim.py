"""Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013): audio from a magnitude spectrogram (power 1, unlike
torchaudio's default 2), batched over every leading axis and framed like :mod:`spectrogen.spectral.stft` (pad_end).
A dropped Nyquist row is left free: each iteration keeps the re-analysed signal's own, not a guessed magnitude."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator, Literal

import torch
from torch import nn

from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral.pghi import pghi_phase
from spectrogen.spectral.stft import (check_framing, inverse_envelope, overlap_add, padded_length,
                                      periodic_hann)

PhaseInit = Literal["pghi", "random", "zeros"]
PHASE_INITS = ("pghi", "random", "zeros")

# added to |X|^2 so that a bin of exactly zero gets a zero estimate rather than a division by zero
_TINY = 1e-30
# examples iterated together on CPU: small groups keep the working set in cache and spread over threads
# (benchmarks/README.md); a GPU takes the whole batch at once
_CPU_GROUP = 8


def griffin_lim(magnitude: torch.Tensor, window: torch.Tensor, hop_length: int, *,
                num_samples: int | None = None, n_iter: int = 32, momentum: float = 0.99,
                init: PhaseInit = "pghi", generator: torch.Generator | None = None,
                nyquist_dropped: bool = False) -> torch.Tensor:
    """Returns audio (..., num_samples) whose STFT magnitude approximates `magnitude` (..., F, T), F = n_fft // 2 + 1
    (one fewer when `nyquist_dropped`); `num_samples` defaults to T * hop_length. Random phases (pghi's quiet bins)
    come from `generator`: a seed reproduces the result, and a batch gives what each example alone gives."""
    n_fft = window.shape[-1]
    expected = n_fft // 2 + (0 if nyquist_dropped else 1)
    if magnitude.dim() < 2 or magnitude.shape[-2] != expected:
        raise InputError(f"griffin_lim: magnitude shaped {tuple(magnitude.shape)} has the wrong number of "
                         f"frequency rows; n_fft={n_fft} {'without' if nyquist_dropped else 'with'} the Nyquist "
                         f"row needs {expected}")
    check_init(init)
    frames = magnitude.shape[-1]
    num_samples = frames * hop_length if num_samples is None else num_samples
    # detached: the in-place loop is not differentiable (nor meant to be)
    flat = magnitude.detach().float().reshape(-1, *magnitude.shape[-2:])  # (N, F, T)
    audio = flat.new_zeros(flat.shape[0], num_samples)
    on_cpu = flat.device.type == "cpu"
    workers = torch.get_num_threads() if on_cpu else 1
    # on CPU groups of examples are spread over threads, each op single-threaded: the ops are too small for
    # intra-op threads to pay for their synchronisation, which stalls badly on cores busy with other work
    with intra_op_threads(1) if on_cpu else nullcontext():
        turns = None
        if init != "zeros":
            # drawn for the whole batch at once, so a seed gives each example the same start however the batch
            # is split into groups; time-major like the loop
            source = generator.device if generator is not None else flat.device
            shape = (flat.shape[0], frames, n_fft // 2 + 1)
            turns = torch.rand(shape, generator=generator, device=source).to(flat.device)  # (N, T, K)
        scale = inverse_envelope(window, hop_length, frames)  # (L,)
        # pad_end analysis sees zeros after the clip: keep the estimate zero there too
        scale[num_samples:] = 0.0
        accelerate = momentum / (1.0 + momentum)

        def run(rows: slice) -> None:
            signal = _iterate(flat[rows], None if turns is None else turns[rows], window, hop_length, scale,
                              n_iter, accelerate, pghi=init == "pghi")  # (n, L)
            kept = min(num_samples, signal.shape[-1])
            audio[rows, :kept] = signal[:, :kept]

        group = _CPU_GROUP if on_cpu else max(1, flat.shape[0])
        _run_groups(run, [slice(i, i + group) for i in range(0, flat.shape[0], group)], workers)
    return audio.reshape(*magnitude.shape[:-2], num_samples)


def _run_groups(run: Callable[[slice], None], groups: list[slice], workers: int) -> None:
    workers = min(workers, len(groups))
    if workers < 2:
        for rows in groups:
            run(rows)
        return
    inference = torch.is_inference_mode_enabled()  # thread-local: the workers take the caller's

    def run_in_worker(rows: slice) -> None:
        with torch.inference_mode(inference):
            run(rows)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run_in_worker, groups))


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Runs the block with torch's intra-op thread count set to `count`, then restores it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_init(init: str) -> None:
    """Raises ConfigError unless `init` names a phase initialisation."""
    if init not in PHASE_INITS:
        raise ConfigError(f"griffin_lim init={init!r}: use one of {', '.join(PHASE_INITS)}")


def _iterate(magnitude: torch.Tensor, turns: torch.Tensor | None, window: torch.Tensor, hop_length: int,
             scale: torch.Tensor, n_iter: int, accelerate: float, pghi: bool = False) -> torch.Tensor:
    """Returns the signal (N, L) after `n_iter` accelerated projections onto `magnitude` (N, F, T); `turns`
    (N, T, K): the initial phases in turns (None: zero), with `pghi` only the quiet bins'."""
    n_fft = window.shape[-1]
    n, rows, frames = magnitude.shape
    bins = n_fft // 2 + 1
    nyquist_free = rows < bins
    # time-major (N, T, K): each FFT runs over contiguous memory; a missing Nyquist row starts at zero
    target = torch.zeros(n, frames, bins, device=magnitude.device)
    target[..., :rows] = magnitude.transpose(1, 2)
    angle = None if turns is None else turns * (2 * math.pi)
    if pghi:
        # the periodic Hann window's length inside its zero padding to n_fft: its one zero is its first sample
        win_length = min(n_fft, int(torch.count_nonzero(window)) + 1)
        angle = pghi_phase(target, n_fft, hop_length, win_length, turns)  # (N, T, K)
    spectrum = torch.zeros(target.shape, dtype=torch.complex64, device=target.device)
    pairs = torch.view_as_real(spectrum)
    pairs[..., 0] = target if angle is None else torch.cos(angle).mul_(target)
    if angle is not None:
        pairs[..., 1] = torch.sin(angle).mul_(target)
    # buffers reused where out= costs no copy (the FFTs would copy into `out`, so they allocate)
    frames_buffer = target.new_empty(n, frames, n_fft)
    audio = target.new_empty(n, padded_length(frames, n_fft, hop_length))
    previous = torch.zeros_like(spectrum)
    gain = torch.empty_like(target)
    for _ in range(n_iter):
        _synthesise(spectrum, window, hop_length, scale, audio)
        rebuilt = torch.fft.rfft(torch.mul(audio.unfold(-1, n_fft, hop_length), window, out=frames_buffer))
        # Perraudin's acceleration, then projection onto the target magnitude
        torch.sub(torch.view_as_real(rebuilt), torch.view_as_real(previous), alpha=accelerate,
                  out=torch.view_as_real(spectrum))
        _set_magnitude(spectrum, target, gain)
        if nyquist_free:
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


class GriffinLim(nn.Module):
    """Magnitude (..., F, T) -> audio (..., S) by fast Griffin-Lim, pad_end framing."""

    def __init__(self, n_fft: int = 256, hop_length: int = 128, win_length: int | None = None,
                 n_iter: int = 32, momentum: float = 0.99, init: PhaseInit = "pghi",
                 nyquist_dropped: bool = True):
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        check_framing(n_fft, hop_length, win_length)
        if n_iter < 0:
            raise ConfigError(f"griffin_lim n_iter={n_iter}: use 0 or more iterations")
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"griffin_lim momentum={momentum}: use 0 <= momentum < 1 (0.99 is usual)")
        check_init(init)
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

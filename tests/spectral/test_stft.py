import librosa
import numpy as np
import pytest
import torch

from spectrogen.spectral.stft import (ENVELOPE_FLOOR, Spectrogram, complex_magnitude, full_overlap_envelope,
                                     inverse_envelope, num_frames, overlap_add, padded_length, periodic_hann,
                                     spectral_convergence, stft)


@pytest.mark.parametrize("n_fft, hop, win_length, samples", [(256, 128, 256, 16384), (512, 160, 400, 8000)])
def test_stft_matches_librosa_with_the_same_framing(n_fft, hop, win_length, samples):
    audio = torch.randn(3, samples, generator=torch.Generator().manual_seed(1))
    ours = stft(audio, periodic_hann(n_fft, win_length), hop).numpy()
    # librosa's STFT of the clip zero-padded at the end as SpecGAN's pad_end does: (B, K, T)
    padded = np.pad(audio.numpy(), ((0, 0), (0, (-(-samples // hop) - 1) * hop + n_fft - samples)))
    reference = librosa.stft(padded, n_fft=n_fft, hop_length=hop, win_length=win_length, window="hann", center=False)
    assert ours.shape == reference.shape == (3, n_fft // 2 + 1, num_frames(samples, hop))
    # float32 FFTs of unit-variance noise: magnitudes up to ~40, agreement to ~1e-5 relative
    np.testing.assert_allclose(ours, reference, atol=2e-4 * np.abs(reference).max())


def test_specgan_framing_gives_128_by_128_and_dropping_nyquist_removes_only_the_last_row():
    audio = torch.randn(2, 16384, generator=torch.Generator().manual_seed(0))
    dropped = Spectrogram(256, 128, drop_nyquist=True)(audio)
    assert dropped.shape == (2, 128, 128) and padded_length(128, 256, 128) == 16512
    assert torch.equal(Spectrogram(256, 128, drop_nyquist=False)(audio)[:, :-1], dropped)


def test_a_tone_lands_in_its_frequency_bin():
    sample_rate, n_fft = 16000, 256
    k = 20  # bin centre frequency: k * sample_rate / n_fft = 1250 Hz
    t = torch.arange(16384) / sample_rate
    magnitude = Spectrogram(n_fft, 128)(torch.sin(2 * torch.pi * k * sample_rate / n_fft * t))
    assert (magnitude[:, 1:-1].argmax(dim=0) == k).all()  # every fully covered frame


def test_batched_stft_equals_one_by_one_and_leading_axes_are_kept():
    audio = torch.randn(5, 3000, generator=torch.Generator().manual_seed(2))
    transform = Spectrogram(256, 128)
    single = torch.stack([transform(clip[None])[0] for clip in audio])
    # magnitudes up to ~30: FFTs that round otherwise differ by up to ~1e-5
    torch.testing.assert_close(transform(audio), single, rtol=1e-5, atol=1e-4)
    audio = torch.randn(2, 3, 1000, generator=torch.Generator().manual_seed(0))
    assert transform(audio).shape == (2, 3, 128, num_frames(1000, 128))


def test_magnitude_without_autograd_is_abs_to_one_ulp_and_keeps_its_gradient_with_it():
    torch.manual_seed(0)
    spec = torch.complex(torch.randn(4, 129, 50) * 30, torch.randn(4, 129, 50) * 30)
    spec[0, 0, :3] = 0
    fast, plain = complex_magnitude(spec), spec.abs()
    assert fast.dtype == plain.dtype and torch.equal(fast[0, 0, :3], torch.zeros(3))
    torch.testing.assert_close(fast, plain, rtol=2.5e-7, atol=0.0)  # elementwise: within a float32 ulp
    generator = torch.Generator().manual_seed(0)
    spec = torch.complex(torch.randn(3, 5, generator=generator), torch.randn(3, 5, generator=generator))
    spec.requires_grad_()
    complex_magnitude(spec).sum().backward()
    torch.testing.assert_close(spec.grad, spec.detach() / spec.detach().abs())


@pytest.mark.parametrize("n_fft, hop, win_length", [(256, 128, 256), (256, 64, 256), (400, 150, 300)])
def test_the_least_squares_inverse_is_exact_where_frames_overlap_and_fades_in_at_the_start(n_fft, hop, win_length):
    audio = torch.randn(2, 5000, generator=torch.Generator().manual_seed(3))
    window = periodic_hann(n_fft, win_length)
    frames = num_frames(5000, hop)
    # Griffin & Lim's inverse, as Griffin-Lim synthesises: each frame's inverse FFT windowed, overlap-added, divided
    segments = torch.fft.irfft(stft(audio, window, hop).transpose(-1, -2), n=n_fft) * window
    rebuilt = (overlap_add(segments, hop) * inverse_envelope(window, hop, frames))[:, :5000]
    # exact wherever the summed squared window reaches the division's floor ...
    squares = window * window
    envelope = overlap_add(squares.expand(1, frames, n_fft), hop)[0, :5000]
    covered = envelope >= ENVELOPE_FLOOR * full_overlap_envelope(squares, hop)
    assert covered[-1] and not covered[0]
    torch.testing.assert_close(rebuilt[:, covered], audio[:, covered], rtol=0, atol=1e-4)
    # ... and the first samples, seen only through the first window's tail, fade in instead of being amplified
    assert (rebuilt[:, ~covered].abs() <= audio[:, ~covered].abs() + 1e-5).all()


def test_spectral_convergence_is_one_relative_error_per_example_zero_when_equal_and_free_of_scale():
    generator = torch.Generator().manual_seed(0)
    reference, estimate = torch.rand(2, 3, 8, 5, generator=generator) + 0.1, torch.rand(2, 3, 8, 5, generator=generator)
    result = spectral_convergence(reference, estimate)
    assert result.shape == (2, 3)
    torch.testing.assert_close(result[1, 2], (reference - estimate)[1, 2].norm() / reference[1, 2].norm())
    assert torch.equal(spectral_convergence(reference, reference), torch.zeros(2, 3))
    torch.testing.assert_close(spectral_convergence(reference, 2 * reference), torch.ones(2, 3))
    torch.testing.assert_close(spectral_convergence(reference, torch.zeros_like(reference)), torch.ones(2, 3))
    # the same relative error at another overall scale gives the same number
    torch.testing.assert_close(result, spectral_convergence(100 * reference, 100 * estimate))


def test_spectral_convergence_compares_complex_inputs_by_magnitude():
    generator = torch.Generator().manual_seed(2)
    reference = torch.polar(torch.rand(4, 6, generator=generator) + 0.5, torch.rand(4, 6, generator=generator))
    rotated = reference * torch.polar(torch.ones(4, 6), torch.rand(4, 6, generator=generator))
    # a ratio of norms, so scale-free: the rotation changes each |z| by a few ulp
    torch.testing.assert_close(spectral_convergence(reference, rotated), torch.tensor(0.0), atol=1e-6, rtol=0)

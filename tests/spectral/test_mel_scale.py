import librosa
import numpy as np
import torch

from spectrogen.spectral.mel import InverseMelScale, MelScale, mel_filter_bank
from spectrogen.spectral.stft import Spectrogram

SR, N_FFT, N_MELS = 16000, 1024, 64


def test_mel_scale_applies_librosas_filter_bank_along_frequency_batched_or_not():
    audio = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    magnitude = Spectrogram(N_FFT, 256, drop_nyquist=False)(audio)  # (B, 513, T)
    ours = MelScale(SR, N_FFT, N_MELS, fmin=20.0, fmax=7000.0)(magnitude)
    # what librosa.feature.melspectrogram(S=magnitude, power=1.0) computes
    bank = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=20.0, fmax=7000.0)
    reference = np.einsum("mk,bkt->bmt", bank, magnitude.numpy())
    assert ours.shape == (2, N_MELS, magnitude.shape[-1])
    np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-4, atol=1e-6)
    magnitude = torch.rand(4, N_FFT // 2 + 1, 9, generator=torch.Generator().manual_seed(0))
    transform = MelScale(SR, N_FFT, N_MELS)  # batched equals one by one
    single = torch.stack([transform(m) for m in magnitude])
    torch.testing.assert_close(transform(magnitude), single, rtol=1e-5, atol=1e-6)


def test_inverse_mel_recovers_a_smooth_spectrum():
    frequency = torch.linspace(0, SR / 2, N_FFT // 2 + 1)
    # smooth spectral envelopes: broad formant-like bumps over a sloping floor, per frame
    centres = torch.tensor([300.0, 1200.0, 2500.0, 5000.0])
    columns = []
    for shift in torch.linspace(0.8, 1.2, 6):
        bumps = torch.exp(-(((frequency[:, None] - shift * centres) / (0.25 * shift * centres + 150.0)) ** 2))
        columns.append(bumps.sum(dim=1) + 0.2 * torch.exp(-frequency / 3000.0))
    spectrum = torch.stack(columns, dim=-1)[None]  # (1, 513, 6)
    mel = MelScale(SR, N_FFT, 128)(spectrum)
    rebuilt = InverseMelScale(SR, N_FFT, 128)(mel)
    # looser over all bins: the edges, beyond the filters' reach, are extrapolated
    band = (frequency > 60.0) & (frequency < 7900.0)
    assert (rebuilt[0, band] - spectrum[0, band]).norm() / spectrum[0, band].norm() < 0.02
    assert (rebuilt - spectrum).norm() / spectrum.norm() < 0.06
    # and the rebuilt spectrum has the same mel spectrum (it is a least-squares solution)
    torch.testing.assert_close(MelScale(SR, N_FFT, 128)(rebuilt), mel, rtol=0.02, atol=1e-3)


def test_inverse_mel_is_never_negative_and_batch_consistent():
    mel = torch.rand(3, 128, 5, generator=torch.Generator().manual_seed(0))
    inverse = InverseMelScale(SR, N_FFT, 128)
    batched = inverse(mel)
    assert batched.min() >= 0
    # values up to ~30 after 20 FISTA steps: products that sum in another order differ by ~1e-5
    torch.testing.assert_close(batched, torch.stack([inverse(m) for m in mel]), rtol=1e-5, atol=1e-4)


def test_filter_bank_is_a_buffer_and_moves_with_the_module():
    transform = MelScale(SR, N_FFT, N_MELS)
    assert "filter_bank" in dict(transform.named_buffers())
    assert transform.to(torch.float64).filter_bank.dtype == torch.float64
    assert mel_filter_bank(SR, N_FFT, N_MELS).shape == (N_MELS, N_FFT // 2 + 1)

import pytest
import torch

from spectrogen.spectral.griffin_lim import GriffinLim, griffin_lim
from spectrogen.spectral.stft import Spectrogram, periodic_hann, spectral_convergence

SAMPLES = 16384  # SpecGAN's clip: 128 frames of hop 128
SPECGAN = Spectrogram(256, 128, drop_nyquist=True)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_convergence_from_a_random_phase_and_from_pghi(tones):
    magnitude = SPECGAN(tones(3, SAMPLES, seed=1))  # (3, 128, 128)
    invert = GriffinLim(256, 128, nyquist_dropped=True)  # init="pghi", the default
    generator = seeded()
    convergence = {(init, n): spectral_convergence(magnitude, SPECGAN(invert(magnitude, n_iter=n, init=init,
                                                                            generator=generator)))
                   for init, n in [("random", 0), ("random", 16), ("random", 32), ("pghi", 0), ("pghi", 8)]}
    assert (convergence["random", 0] > 0.4).all() and (convergence["random", 16] < 0.15).all()
    assert (convergence["random", 32] < 0.11).all() and (convergence["random", 32] < convergence["random", 16]).all()
    assert (convergence["pghi", 0] < 0.1).all() and (convergence["pghi", 8] < convergence["random", 32]).all()


def test_batched_equals_one_by_one_from_zero_phase(tones):
    magnitude = SPECGAN(tones(11, 2048, seed=2))  # more examples than one CPU group: split across threads
    invert = GriffinLim(256, 128, n_iter=8, init="zeros")
    single = torch.stack([invert(m[None])[0] for m in magnitude])
    # the iterations magnify round-off about 1e4 times; a clip mixed with another would be off by its own level
    torch.testing.assert_close(invert(magnitude), single, rtol=0, atol=1e-2)


def test_same_seed_same_audio_of_the_clips_length_and_first_example_independent_of_batch(tones):
    magnitude = SPECGAN(tones(3, 4096, seed=3))
    invert = GriffinLim(256, 128, n_iter=8)
    first = invert(magnitude, generator=seeded(5))
    assert first.shape == (3, 4096) and first.dtype == torch.float32 and torch.isfinite(first).all()
    assert invert(magnitude, num_samples=4000, generator=seeded(5)).shape == (3, 4000)
    assert torch.equal(first, invert(magnitude, generator=seeded(5)))
    assert not torch.allclose(first, invert(magnitude, generator=seeded(6)))
    torch.testing.assert_close(first[:1], invert(magnitude[:1], generator=seeded(5)), rtol=0, atol=1e-2)


@pytest.mark.parametrize("n_fft, hop, win_length", [(256, 128, 256), (400, 150, 300), (512, 128, 512)])
def test_other_framings_with_the_nyquist_row_kept(tones, n_fft, hop, win_length):
    full = Spectrogram(n_fft, hop, win_length, drop_nyquist=False)
    magnitude = full(tones(2, 8000, seed=4))  # (2, n_fft // 2 + 1, T)
    rebuilt = griffin_lim(magnitude, periodic_hann(n_fft, win_length), hop, num_samples=8000, n_iter=32,
                          generator=seeded())
    assert rebuilt.shape == (2, 8000)
    assert (spectral_convergence(magnitude, full(rebuilt)) < 0.11).all()

import pytest
import torch

from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral.convergence import spectral_convergence
from spectrogen.spectral.griffin_lim import GriffinLim, griffin_lim
from spectrogen.spectral.stft import Spectrogram, periodic_hann

SAMPLES = 16384  # SpecGAN's clip: 128 frames of hop 128


@pytest.fixture(scope="module")
def specgan_stft():
    return Spectrogram(256, 128, drop_nyquist=True)


def _convergence(specgan_stft, magnitude, audio):
    return spectral_convergence(magnitude, specgan_stft(audio))


def test_round_trip_of_tones_reaches_the_stated_convergence(tones, specgan_stft):
    audio = tones(3, SAMPLES, seed=1)
    magnitude = specgan_stft(audio)  # (3, 128, 128), Nyquist dropped as in SpecGAN
    invert = GriffinLim(256, 128, nyquist_dropped=True, init="random")
    generator = torch.Generator().manual_seed(0)
    start = _convergence(specgan_stft, magnitude, invert(magnitude, n_iter=0, generator=generator))
    after_16 = _convergence(specgan_stft, magnitude, invert(magnitude, n_iter=16, generator=generator))
    after_32 = _convergence(specgan_stft, magnitude, invert(magnitude, n_iter=32, generator=generator))
    # measured on these clips: 0.52 from random phase, 0.09 - 0.11 after 16 iterations,
    # 0.06 - 0.075 after 32
    assert (start > 0.4).all()
    assert (after_16 < 0.15).all()
    assert (after_32 < 0.11).all()
    assert (after_32 < after_16).all()


def test_phase_from_the_magnitude_beats_a_random_start(tones, specgan_stft):
    audio = tones(3, SAMPLES, seed=1)
    magnitude = specgan_stft(audio)
    invert = GriffinLim(256, 128, nyquist_dropped=True)  # init="pghi", the default
    generator = torch.Generator().manual_seed(0)
    alone = _convergence(specgan_stft, magnitude, invert(magnitude, n_iter=0, generator=generator))
    after_8 = _convergence(specgan_stft, magnitude, invert(magnitude, n_iter=8, generator=generator))
    random_32 = _convergence(specgan_stft, magnitude,
                             invert(magnitude, n_iter=32, generator=generator, init="random"))
    # measured: 0.024 - 0.038 with no iteration at all (a random phase: 0.52), 0.01 - 0.02 after 8,
    # where a random start needs more than 32 to reach 0.06 - 0.075
    assert (alone < 0.1).all()
    assert (after_8 < random_32).all()


def test_output_has_the_clip_length_and_is_real_audio(tones, specgan_stft):
    magnitude = specgan_stft(tones(2, SAMPLES))
    audio = GriffinLim(256, 128, n_iter=4)(magnitude, generator=torch.Generator().manual_seed(0))
    assert audio.shape == (2, SAMPLES) and audio.dtype == torch.float32
    assert torch.isfinite(audio).all()
    shorter = GriffinLim(256, 128, n_iter=4)(magnitude, num_samples=16000, generator=torch.Generator().manual_seed(0))
    assert shorter.shape == (2, 16000)


def test_batched_equals_one_by_one_from_zero_phase(tones, specgan_stft):
    # more examples than one CPU group, so the batch is split across worker threads
    magnitude = specgan_stft(tones(11, 2048, seed=2))
    invert = GriffinLim(256, 128, n_iter=8, init="zeros")
    batched = invert(magnitude)
    single = torch.stack([invert(m[None])[0] for m in magnitude])
    # the iterations magnify round-off ~1e4 times (a 1e-7 relative change of the magnitude moves
    # this audio, peak ~0.7, by up to 1.5e-3): an FFT that rounds a batch unlike one clip must pass;
    # a clip mixed with another would be off by about the audio's own level (~0.1)
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-2)


def test_same_seed_same_audio_and_first_example_independent_of_batch(tones, specgan_stft):
    magnitude = specgan_stft(tones(3, 4096, seed=3))
    invert = GriffinLim(256, 128, n_iter=8)
    first = invert(magnitude, generator=torch.Generator().manual_seed(5))
    again = invert(magnitude, generator=torch.Generator().manual_seed(5))
    other = invert(magnitude, generator=torch.Generator().manual_seed(6))
    alone = invert(magnitude[:1], generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    # round-off magnified by the iterations, as above (measured up to 1.5e-3 for a 1e-6 relative change)
    torch.testing.assert_close(first[:1], alone, rtol=0, atol=1e-2)


@pytest.mark.parametrize("n_fft, hop, win_length", [(256, 128, 256), (400, 150, 300), (512, 128, 512)])
def test_other_framings_with_the_nyquist_row_kept(tones, n_fft, hop, win_length):
    audio = tones(2, 8000, seed=4)
    full = Spectrogram(n_fft, hop, win_length, drop_nyquist=False)
    magnitude = full(audio)  # (2, n_fft // 2 + 1, T)
    rebuilt = griffin_lim(magnitude, periodic_hann(n_fft, win_length), hop, num_samples=8000, n_iter=32,
                          generator=torch.Generator().manual_seed(0))
    assert rebuilt.shape == (2, 8000)
    # measured 0.05 - 0.08 for these framings
    assert (spectral_convergence(magnitude, full(rebuilt)) < 0.11).all()


def test_mismatched_rows_and_bad_settings_are_refused():
    with pytest.raises(InputError, match="frequency rows"):
        GriffinLim(256, 128, nyquist_dropped=True)(torch.rand(1, 129, 8, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ConfigError, match="momentum"):
        GriffinLim(256, 128, momentum=1.5)
    with pytest.raises(ConfigError, match="init"):
        GriffinLim(256, 128, init="noise")

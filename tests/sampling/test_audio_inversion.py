"""Audio -> prepare -> (no model) -> to_audio gives back audio with the same spectrogram for every representation: the
spectral convergence of the prepared features against those of the returned audio (measured: benchmarks/README.md)."""

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.data import SpectrogramDataset, prepare
from spectrogen.errors import InputError
from spectrogen.sampling.audio import HEADROOM_DBFS, RMS_TARGET_DBFS, decibels, rms_level, set_level, to_audio
from spectrogen.spectral.compression import decompress
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation
from spectrogen.spectral.stft import spectral_convergence

CASES = [  # (preset, settings, spectral-convergence bound)
    ("specgan", None, 0.15),
    ("mel", {"frames": 128}, 0.12),
    ("autoencoder", {"frames": 64}, 0.22),
    ("mel", {"frames": 128, "image_size": [64, 64]}, 0.45),
]


def harmonic_signal(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Returns a vibrato tone with five harmonics, a slow tremolo and a little noise, peak 0.3."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(150, 400)
    x = sum(np.sin(2 * np.pi * k * f0 * t + 3 * np.sin(2 * np.pi * (1 + 0.3 * k) * t)) / k for k in range(1, 6))
    x *= 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(1, 3) * t))
    x += 0.02 * rng.normal(size=t.shape)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("preset, settings, bound", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_prepared_audio_comes_back_with_the_same_spectrogram(tmp_path, preset, settings, bound):
    duration = Representation.preset(preset, **(settings or {})).duration
    source = tmp_path / "recordings"
    source.mkdir()
    soundfile.write(source / "tone.wav", harmonic_signal(duration, 16000, seed=len(preset)), 16000)
    prepare(source, tmp_path / "data", representation=preset, settings=settings, silence_db=None, quiet=True)
    data = SpectrogramDataset.open(tmp_path / "data")
    representation = data.representation
    features = torch.from_numpy(np.array(data.features))  # (N, F, T), un-normalised
    normalizer = Normalizer("per_frequency", data.moments)
    model_range = normalizer(features).unsqueeze(1)  # (N, 1, F, T), what a model would output

    audio = to_audio(model_range, representation, normalizer, n_iter=32)  # (N, S)

    assert audio.shape == (len(features), representation.num_samples) and audio.dtype == np.float32
    again = representation.features(torch.from_numpy(audio))  # (N, F, T)
    convergence = spectral_convergence(decompress(features, representation.log), decompress(again, representation.log))
    assert (convergence < bound).all(), f"spectral convergence {convergence.tolist()} above {bound}"


def test_the_seed_fixes_the_audio_and_batches_do_not_change_it():
    representation = Representation.preset("specgan")
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(3, 1, *representation.shape, generator=generator) - 4.0  # log magnitudes
    first = to_audio(features, representation, None, n_iter=4, seed=7)
    assert np.array_equal(first, to_audio(features, representation, None, n_iter=4, seed=7))
    assert not np.allclose(first, to_audio(features, representation, None, n_iter=4, seed=8))
    assert to_audio(features, representation, None, n_iter=4, seed=7, batch_size=1).shape == first.shape


@pytest.mark.parametrize("shape, representation, message", [
    ((1, 1, 28, 28), Representation.from_dict({"kind": "image", "image_size": [28, 28]}), "images"),
    ((1, 1, 28, 28), None, "images"),
    ((1, 2, 128, 128), Representation.preset("specgan"), "do not fit"),
])
def test_images_and_wrong_shapes_have_no_audio(shape, representation, message):
    with pytest.raises(InputError, match=message):
        to_audio(np.zeros(shape, np.float32), representation)


def test_a_model_trained_at_another_size_is_resized_back_to_the_representation():
    """A 64x64 model saw the 128x128 data shrunk; its samples come back as audio of the full length."""
    representation = Representation.preset("specgan")
    audio = np.stack([harmonic_signal(representation.duration, 16000, seed=s) for s in (1, 2)])
    features = representation.features(torch.from_numpy(audio))  # (2, 128, 128)
    mapping = FeatureMapping(representation, None, (64, 64))
    small = mapping.to_model(features)  # what a 64x64 model makes
    rebuilt = to_audio(small, representation, None, n_iter=32)
    assert rebuilt.shape == (2, representation.num_samples)
    again = representation.features(torch.from_numpy(rebuilt))
    smooth = mapping.to_features(small)  # the best a 64x64 grid holds
    convergence = spectral_convergence(decompress(smooth, representation.log), decompress(again, representation.log))
    assert (convergence < 0.25).all(), convergence.tolist()


def test_levels_are_set_from_the_whole_clip_not_one_sample():
    rng = np.random.default_rng(0)
    quiet = 0.01 * rng.normal(size=8000)
    spiked = quiet.copy()
    spiked[1] = 0.5  # one stray sample, as the old inverse made at a clip's start
    loud = 2.0 * rng.normal(size=8000)  # would clip
    audio = np.stack([quiet, spiked, loud, np.zeros(8000)]).astype(np.float32)  # (4, S)

    data = set_level(audio)  # the data's own level: untouched unless it would clip
    np.testing.assert_array_equal(data[:2], audio[:2])
    assert np.abs(data[2]).max() == pytest.approx(10 ** (HEADROOM_DBFS / 20), rel=1e-5)
    assert not data[3].any()  # silence stays silent

    rms = set_level(audio, "rms")
    # the spike does not set the level: both quiet clips come up to the same RMS
    np.testing.assert_allclose(decibels(rms_level(rms[:2])), RMS_TARGET_DBFS, atol=0.05)
    peak = set_level(audio, "peak")
    # the robust peak is the spiked clip's body's too: the same gain as its twin without the spike
    assert peak[1][0] / audio[1][0] == pytest.approx(peak[0][0] / audio[0][0], rel=0.05)
    assert not rms[3].any() and not peak[3].any()

    together = set_level(audio[:3], together=True)  # one gain: the loud clip's
    np.testing.assert_allclose(together[0] / audio[0], together[2][0] / audio[2][0], rtol=1e-4)

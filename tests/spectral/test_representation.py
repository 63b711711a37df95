import json

import librosa
import numpy as np
import pytest
import torch

from spectrogen.spectral.compression import decompress
from spectrogen.spectral.representation import Representation, _frontend
from spectrogen.spectral.stft import spectral_convergence


@pytest.mark.parametrize("name, shape, samples", [
    ("specgan", (128, 128), 16384), ("mel", (128, 512), 131072), ("autoencoder", (128, 256), 81920),
])
def test_presets_turn_one_clip_into_the_stated_shape(name, shape, samples):
    rep = Representation.preset(name)
    assert rep.shape == shape and rep.num_samples == samples
    features = rep.features(torch.randn(2, samples, generator=torch.Generator().manual_seed(0)) * 0.1)
    assert features.shape == (2, *shape) and features.dtype == torch.float32


def test_specgan_features_are_log_magnitudes_of_librosas_stft(tones):
    rep = Representation.preset("specgan")
    audio = tones(2, rep.num_samples, seed=7)
    # SpecGAN's pad_end framing: no centring, 128 zeros appended so 128 frames of 256 fit
    padded = np.pad(audio.numpy(), ((0, 0), (0, 128)))
    reference = librosa.stft(padded, n_fft=256, hop_length=128, window="hann", center=False)
    expected = np.log(np.abs(reference[:, :-1]) + 1e-6)  # Nyquist row dropped
    ours = rep.features(audio).numpy()
    # the log magnifies float32 differences where |X| is near 1e-6: compare magnitudes there
    np.testing.assert_allclose(np.exp(ours), np.exp(expected), atol=2e-4 * np.exp(expected).max())
    loud = expected > np.log(1e-2)
    np.testing.assert_allclose(ours[loud], expected[loud], atol=1e-3)


def test_features_are_batch_consistent(tones):
    rep = Representation.preset("autoencoder", frames=16)
    audio = tones(3, rep.num_samples, seed=8)
    batched = rep.features(audio)
    torch.testing.assert_close(batched, torch.cat([rep.features(clip[None]) for clip in audio]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, settings, seed, bound", [("specgan", {}, 9, 0.11),
                                                         ("autoencoder", {"frames": 32}, 10, 0.22)])
def test_round_trip_through_features_reaches_the_stated_convergence(tones, name, settings, seed, bound):
    rep = Representation.preset(name, **settings)
    audio = tones(2, rep.num_samples, seed=seed)
    features = rep.features(audio)
    rebuilt = rep.to_audio(features, n_iter=32, generator=torch.Generator().manual_seed(0))
    assert rebuilt.shape == audio.shape
    # mel is looser: least squares to linear, then Griffin-Lim on 4x overlapped frames, where the edges weigh more
    again = decompress(rep.features(rebuilt), rep.log)
    assert (spectral_convergence(decompress(features, rep.log), again) < bound).all()


def test_image_size_resizes_on_the_way_in_and_back_on_the_way_out(tones):
    rep = Representation.preset("specgan", image_size=[64, 32])
    audio = tones(2, rep.num_samples, seed=11)
    features = rep.features(audio)
    assert rep.shape == (64, 32) and features.shape == (2, 64, 32)
    assert rep.magnitude(features).shape == (2, 128, 128)
    assert rep.to_audio(features, n_iter=2, generator=torch.Generator().manual_seed(0)).shape == (2, rep.num_samples)
    # averaging the power of 2 x 4 cells keeps the clip's energy (averaging logs lost 5-10 dB), both ways
    native = Representation.preset("specgan").features(audio)
    power = lambda magnitude: (magnitude ** 2).mean(dim=(1, 2))  # noqa: E731
    torch.testing.assert_close(power(decompress(features, rep.log)), power(decompress(native, rep.log)), rtol=0.02,
                               atol=0)
    torch.testing.assert_close(power(rep.magnitude(features)), power(decompress(native, rep.log)), rtol=0.05, atol=0)


def test_json_round_trip_and_equality():
    rep = Representation.preset("mel", image_size=[128, 128], fmin=30.0)
    restored = Representation.from_dict(json.loads(json.dumps(rep.to_dict())))
    assert restored == rep and hash(restored) == hash(rep)
    assert rep.to_dict()["image_size"] == [128, 128]


def test_transforms_are_built_once_per_device():
    rep = Representation.preset("autoencoder", frames=4)
    rep.features(torch.zeros(1, rep.num_samples))
    hits = _frontend.cache_info().hits
    again = Representation.from_dict(rep.to_dict())  # an equal representation shares the cache
    again.features(torch.zeros(1, rep.num_samples))
    assert _frontend.cache_info().hits == hits + 1
    assert _frontend(rep, torch.device("cpu")) is _frontend(again, torch.device("cpu"))

"""The report's path from model arrays to decibels and sound, and back from data-set features."""

import numpy as np
import torch

from spectrogen.report.spectrogram_space import DB_LABEL, NORMALISED_LABEL, SpectrogramSpace, colour_range
from spectrogen.spectral.moments import MomentAccumulator
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation

SIZE = 32


def engine_like_features(count: int = 6, seed: int = 0) -> tuple[Representation, np.ndarray]:
    """Returns a 32x32 specgan representation and features (N, F, T) of noisy tones."""
    representation = Representation.preset("specgan", image_size=(SIZE, SIZE))
    rng = np.random.default_rng(seed)
    t = np.arange(representation.num_samples) / representation.sample_rate
    audio = np.stack([0.5 * np.sin(2 * np.pi * rng.uniform(200, 3000) * t) + 0.01 * rng.standard_normal(len(t))
                      for _ in range(count)]).astype(np.float32)
    return representation, representation.features(torch.from_numpy(audio)).numpy()


def space_for(features: np.ndarray, representation, model_shape=(SIZE, SIZE)) -> SpectrogramSpace:
    moments = MomentAccumulator()
    moments.update(features)
    return SpectrogramSpace(representation, Normalizer("per_frequency", moments.result()), model_shape)


def test_real_examples_are_shown_as_their_magnitude_in_decibels():
    representation, raw = engine_like_features()
    space = space_for(raw, representation)
    arrays = space.normalise(raw)  # (N, 1, H, W), as training saw them
    assert arrays.shape == (len(raw), 1, SIZE, SIZE) and np.abs(arrays).max() <= 1.0
    shown = space.display(arrays)
    expected = 20 * np.log10(np.maximum(np.exp(raw) - 1e-6, 1e-5))
    inside = np.abs(arrays[:, 0]) < 1.0  # clipped cells cannot come back
    np.testing.assert_allclose(shown[inside], expected[inside], atol=1e-2)
    assert space.value_label == DB_LABEL and space.axes_representation is representation


def test_audio_of_a_smaller_model_is_resized_back_and_reproducible():
    representation, raw = engine_like_features(count=3)
    space = space_for(raw, representation, model_shape=(16, 16))
    arrays = space.normalise(raw)
    assert arrays.shape == (3, 1, 16, 16)
    first = space.audio(arrays, n_iter=4, seed=0)
    assert first.shape == (3, representation.num_samples)
    np.testing.assert_array_equal(first, space.audio(arrays, n_iter=4, seed=0))
    assert np.all(np.abs(first).max(axis=1) > 0)


def test_image_data_are_shown_in_normalised_units_with_axes_of_the_model_size():
    space = SpectrogramSpace(Representation(kind="image", image_size=(SIZE, SIZE)), None, (16, 16))
    x = np.linspace(-1, 1, 2 * 16 * 16, dtype=np.float32).reshape(2, 1, 16, 16)
    assert not space.audible and space.value_label == NORMALISED_LABEL
    np.testing.assert_array_equal(space.display(x), x[:, 0])
    assert tuple(space.axes_representation.shape) == (16, 16)


def test_one_colour_range_covers_the_top_80_db_of_all_stacks():
    loud, quiet = np.full((1, 4, 4), 10.0), np.full((1, 4, 4), -120.0)
    assert colour_range(loud, quiet, decibels=True) == (-70.0, 10.0)
    assert colour_range(loud, quiet, decibels=False) == (-120.0, 10.0)
    assert colour_range(np.zeros((1, 2, 2)), decibels=False) == (0.0, 1.0)  # a flat image still has a range

"""The one mapping between a data set's features and a model's inputs: exact at one size, level kept across two."""

import numpy as np
import pytest
import torch

from real_shaped import KINDS, clip
from spectrogen.spectral import FeatureMapping, MomentAccumulator, Normalizer, Representation, decompress
from spectrogen.spectral.resize import resize

REPRESENTATION = Representation.preset("specgan")
SIZES = [(32, 32), (64, 128), (100, 60)]


@pytest.fixture(scope="module")
def features():
    """Log features (8, 128, 128) of real-shaped clips: engines, notes, speech, noise bursts."""
    rate, samples = REPRESENTATION.sample_rate, REPRESENTATION.num_samples
    audio = np.stack([clip(kind, samples, rate, seed=seed) for kind in KINDS for seed in range(2)])
    return REPRESENTATION.features(torch.from_numpy(audio).float())


def mapping(features, kind="per_frequency", size=(128, 128), representation=REPRESENTATION):
    moments = MomentAccumulator()
    moments.update(features)
    return FeatureMapping(representation, Normalizer(kind, moments.result()), size)


def level_db(features: torch.Tensor) -> torch.Tensor:
    """Returns each example's mean power in dB."""
    return 10 * torch.log10((decompress(features, REPRESENTATION.log) ** 2).mean(dim=(-2, -1)))


@pytest.mark.parametrize("kind", ["per_frequency", "minmax", "none"])
def test_at_the_data_sets_size_the_way_back_is_exact_where_nothing_was_clipped(features, kind):
    mapped = mapping(features, kind)
    x = mapped.to_model(features)
    assert x.shape == (len(features), 1, 128, 128) and not mapped.resizes and mapped.note() is None
    kept = x[:, 0].abs() < 1 if kind == "per_frequency" else torch.ones_like(features, dtype=torch.bool)
    assert kept.float().mean() > 0.95
    torch.testing.assert_close(mapped.to_features(x)[kept], features[kept], rtol=0, atol=1e-5)
    magnitudes = decompress(features, REPRESENTATION.log)
    torch.testing.assert_close(mapped.magnitudes(x)[kept], magnitudes[kept], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("size", SIZES)
def test_a_model_of_another_size_keeps_each_clips_level(features, size):
    mapped = mapping(features, size=size)
    x = mapped.to_model(features)
    assert x.shape == (len(features), 1, *size) and x.abs().max() <= 1
    back = mapped.to_features(x)
    assert back.shape == features.shape and "resized once" in mapped.note()
    assert (level_db(back) - level_db(features)).abs().max() < 0.5
    # resizing the log features instead averages logarithms: the quiet cells pull the level down
    assert (level_db(features) - level_db(resize(resize(features, size), features.shape[-2:]))).max() > 3.0


@pytest.mark.parametrize("size", [(128, 128), (32, 32)])
def test_one_example_alone_maps_as_it_does_inside_a_batch(features, size):
    mapped = mapping(features, size=size)
    batch = mapped.to_model(features)
    alone = torch.cat([mapped.to_model(features[i:i + 1]) for i in range(len(features))])
    torch.testing.assert_close(alone, batch, rtol=0, atol=1e-6)
    back = torch.cat([mapped.to_features(batch[i:i + 1]) for i in range(len(batch))])
    torch.testing.assert_close(back, mapped.to_features(batch), rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", SIZES)
def test_the_per_frequency_moments_follow_the_rows_to_the_models_height(features, size):
    mapped = mapping(features, size=size)
    assert mapped.normalizer.mean.shape == (size[0],) and mapped.data_normalizer.mean.shape == (128,)
    x = mapped.to_model(features)[:, 0]  # (N, H, W)
    # each row roughly centred, nothing pushed against the clipping bounds
    assert x.mean(dim=(0, 2)).abs().max() < 0.25 and (x.abs() >= 1).float().mean() < 1e-3


def test_pictures_are_resized_as_values():
    picture = Representation(kind="image", image_size=(28, 28))
    digits = torch.rand(4, 28, 28, generator=torch.Generator().manual_seed(0))
    mapped = mapping(digits, "minmax", (32, 32), picture)
    assert not mapped.audible and "values" in mapped.note()
    torch.testing.assert_close(mapped.to_features(mapped.to_model(digits)), resize(resize(digits, (32, 32)), (28, 28)))

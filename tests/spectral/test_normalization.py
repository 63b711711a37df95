import json

import numpy as np
import pytest
import torch

from spectrogen.spectral.moments import MomentAccumulator
from spectrogen.spectral.normalization import Normalizer

KINDS = ["per_frequency", "minmax", "minmax01", "per_sample", "none"]


@pytest.fixture(scope="module")
def data():
    """(N, F, T) features with a different level and spread in each frequency row."""
    generator = torch.Generator().manual_seed(0)
    level = torch.linspace(-12.0, 2.0, 16)[:, None]
    spread = torch.linspace(0.5, 3.0, 16)[:, None]
    return level + spread * torch.randn(40, 16, 24, generator=generator)


@pytest.fixture(scope="module")
def moments(data):
    accumulator = MomentAccumulator()
    accumulator.update(data)
    return accumulator.result()


def test_per_frequency_is_specgans_formula_and_inverts_unclipped_values(data, moments):
    normalizer = Normalizer("per_frequency", moments)
    y = normalizer(data)
    mean = torch.from_numpy(moments.mean).float()[:, None]
    std = torch.from_numpy(moments.std).float()[:, None]
    torch.testing.assert_close(y, ((data - mean) / std / 3).clamp(-1, 1))
    unclipped = y.abs() < 1
    assert unclipped.float().mean() > 0.99  # 3 std covers nearly all of Gaussian data
    # elementwise: a few float32 roundings of values below 20 (at most ~4e-6)
    torch.testing.assert_close(normalizer.inverse(y)[unclipped], data[unclipped], rtol=0, atol=1e-5)
    torch.testing.assert_close(y.mean(dim=(0, 2)), torch.zeros(16), rtol=0, atol=0.01)  # each row centred
    assert torch.equal(normalizer(mean[None] + 100.0), torch.ones(1, 16, 1))  # clipped to the unit range


def test_a_constant_frequency_row_does_not_divide_by_zero(data):
    constant = data.clone()
    constant[:, 3] = 7.0
    accumulator = MomentAccumulator()
    accumulator.update(constant)
    normalizer = Normalizer("per_frequency", accumulator.result())
    y = normalizer(constant)
    assert torch.isfinite(y).all() and torch.equal(y[:, 3], torch.zeros_like(y[:, 3]))
    torch.testing.assert_close(normalizer.inverse(y)[:, 3], constant[:, 3])


@pytest.mark.parametrize("kind, low, high", [("minmax", -1.0, 1.0), ("minmax01", 0.0, 1.0)])
def test_global_minmax_reaches_the_range_ends_and_inverts(data, moments, kind, low, high):
    normalizer = Normalizer(kind, moments)
    y = normalizer(data)
    # elementwise: the data's own extremes map onto the ends to within an ulp or two
    assert y.min().item() == pytest.approx(low, abs=1e-6) and y.max().item() == pytest.approx(high, abs=1e-6)
    torch.testing.assert_close(normalizer.inverse(y), data, rtol=0, atol=1e-5)  # elementwise, as above


def test_per_sample_scales_each_example_to_the_unit_range(data, moments):
    normalizer = Normalizer("per_sample", moments)
    y = normalizer(data[:5] * torch.tensor([1.0, 0.1, 2.0, 0.5, 3.0])[:, None, None])
    torch.testing.assert_close(y.amin(dim=(1, 2)), -torch.ones(5))
    torch.testing.assert_close(y.amax(dim=(1, 2)), torch.ones(5))
    # the inverse has no per-example scale to use: it maps [-1, 1] onto the data set's range
    back = normalizer.inverse(torch.tensor([-1.0, 1.0]).reshape(1, 2, 1).expand(1, 2, 3))
    torch.testing.assert_close(back[0, :, 0], torch.tensor([moments.min, moments.max]).float())


@pytest.mark.parametrize("kind", KINDS)
def test_batched_equals_one_by_one_and_channels_broadcast(data, moments, kind):
    normalizer = Normalizer(kind, moments)
    batched = normalizer(data[:6])
    torch.testing.assert_close(batched, torch.stack([normalizer(example) for example in data[:6]]))
    torch.testing.assert_close(normalizer(data[:6, None])[:, 0], batched)  # (B, 1, F, T)
    torch.testing.assert_close(normalizer.inverse(batched[:, None])[:, 0], normalizer.inverse(batched))
    if kind == "none":
        assert torch.equal(batched, data[:6])


@pytest.mark.parametrize("kind", KINDS)
def test_to_dict_is_plain_json_and_rebuilds_the_same_mapping(data, moments, kind):
    normalizer = Normalizer(kind, moments if kind != "none" else None)
    restored = Normalizer.from_dict(json.loads(json.dumps(normalizer.to_dict())))
    assert restored.kind == kind
    torch.testing.assert_close(restored(data), normalizer(data))
    torch.testing.assert_close(restored.inverse(normalizer(data)), normalizer.inverse(normalizer(data)))


def test_moments_are_float64_and_normalizer_buffers_follow_the_module(moments):
    assert moments.mean.dtype == np.float64
    assert Normalizer("per_frequency", moments).to(torch.float64).mean.dtype == torch.float64

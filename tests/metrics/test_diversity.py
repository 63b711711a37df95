"""SSIM and MS-SSIM: 1 for identical images, the closed form for flat ones, scales adapted to the size."""

import numpy as np
import pytest
import torch

from spectrogen.metrics.diversity import (diversity, mean_pairwise_similarity, ms_ssim, ms_ssim_levels, random_pairs,
                                          ssim)


@pytest.mark.parametrize("size", [(16, 16), (64, 64), (128, 128), (128, 512)])
def test_an_image_is_perfectly_similar_to_itself(size):
    x = torch.rand(3, 1, *size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-5)
    assert torch.allclose(ms_ssim(x, x), torch.ones(3), atol=1e-5)


def test_flat_images_follow_the_luminance_formula():
    # no variance: SSIM reduces to (2ab + C1) / (a² + b² + C1) with C1 = (0.01 L)²
    a, b, data_range = 0.2, -0.4, 2.0
    c1 = (0.01 * data_range) ** 2
    x, y = torch.full((1, 1, 32, 32), a), torch.full((1, 1, 32, 32), b)
    assert ssim(x, y, data_range).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-4)


def test_similarity_falls_as_noise_grows():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(np.tanh(rng.standard_normal((4, 1, 64, 64)).cumsum(axis=-1) / 8), dtype=torch.float32)
    generator = torch.Generator().manual_seed(1)
    noise = lambda: torch.randn(x.shape, generator=generator)  # noqa: E731
    for measure in (ssim, ms_ssim):
        values = [measure(x, x + s * noise()).mean().item() for s in (0.05, 0.2, 0.8)]
        assert values[0] > values[1] > values[2]


def test_ms_ssim_uses_as_many_scales_as_the_size_allows():
    sizes = [(16, 16), (32, 32), (64, 64), (128, 128), (128, 512), (256, 256)]
    assert [ms_ssim_levels(*size) for size in sizes] == [1, 2, 3, 4, 4, 5]


def test_ssim_is_symmetric_and_batch_consistent():
    generator = torch.Generator().manual_seed(2)
    x, y = torch.rand(5, 1, 32, 32, generator=generator), torch.rand(5, 1, 32, 32, generator=generator)
    assert torch.allclose(ssim(x, y), ssim(y, x), atol=1e-6)
    assert torch.allclose(ssim(x, y), torch.cat([ssim(x[i:i + 1], y[i:i + 1]) for i in range(5)]), atol=1e-6)


def test_random_pairs_are_distinct_and_ordered():
    pairs = random_pairs(50, 300, seed=1)
    assert len(pairs) == 300 and len({tuple(p) for p in pairs}) == 300
    assert (pairs[:, 0] < pairs[:, 1]).all() and pairs.max() < 50
    assert len(random_pairs(4, 100)) == 6  # every pair when there are fewer than asked


def test_a_collapsed_set_has_no_diversity_and_a_fresh_one_the_data_s():
    rng = np.random.default_rng(2)
    real = np.tanh(rng.standard_normal((60, 1, 64, 64))).astype(np.float32)
    fresh = np.tanh(rng.standard_normal((60, 1, 64, 64))).astype(np.float32)
    collapsed = np.repeat(fresh[:1], 60, axis=0)
    assert diversity(real, fresh, pairs=100).ratio == pytest.approx(1.0, abs=0.05)
    result = diversity(real, collapsed, pairs=100)
    assert result.ratio < 1e-4 and result.ms_ssim_fake == pytest.approx(1.0, abs=1e-5)
    assert mean_pairwise_similarity(collapsed, pairs=20) == pytest.approx(1.0, abs=1e-5)

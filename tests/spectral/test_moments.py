import json

import numpy as np
import torch

from spectrogen.spectral.moments import MomentAccumulator, Moments


def _data_set(seed: int = 0) -> np.ndarray:
    """(N, F, T) log-spectrogram-like values: a large offset per row makes naive sums lose digits."""
    rng = np.random.default_rng(seed)
    offsets = rng.uniform(-1e4, 1e4, size=(1, 12, 1))
    spread = rng.uniform(0.01, 3.0, size=(1, 12, 1))
    return (offsets + rng.normal(scale=spread, size=(57, 12, 9))).astype(np.float32)


def test_streaming_moments_equal_two_pass_moments_for_uneven_batches():
    data = _data_set()
    accumulator = MomentAccumulator()
    for start, stop in [(0, 1), (1, 8), (8, 40), (40, 41), (41, 57)]:
        accumulator.update(torch.from_numpy(data[start:stop]))
    moments = accumulator.result()
    as_float64 = data.astype(np.float64)
    # both sides sum in float64: another summation order moves them by ~1e-14 relative on any CPU
    np.testing.assert_allclose(moments.mean, as_float64.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(moments.std, as_float64.std(axis=(0, 2)), rtol=1e-9)
    assert moments.min == data.min() and moments.max == data.max()
    assert moments.count == 57 * 9


def test_batch_splitting_and_channel_axes_do_not_change_the_result():
    data = _data_set(1)
    whole, pieces, channels = MomentAccumulator(), MomentAccumulator(), MomentAccumulator()
    whole.update(data)
    for example in data:
        pieces.update(example[None])
    channels.update(data.reshape(19, 3, 12, 9))  # (B, C, F, T): channels count as observations
    for other in (pieces.result(), channels.result()):  # float64 sums: tight whatever their order
        np.testing.assert_allclose(other.mean, whole.result().mean, rtol=1e-12)
        np.testing.assert_allclose(other.std, whole.result().std, rtol=1e-9)
        assert other.count == whole.result().count


def test_round_trip_through_json():
    accumulator = MomentAccumulator()
    accumulator.update(_data_set(3))
    moments = accumulator.result()
    restored = Moments.from_dict(json.loads(json.dumps(moments.to_dict())))
    np.testing.assert_array_equal(np.stack([restored.mean, restored.std]), np.stack([moments.mean, moments.std]))
    assert (restored.min, restored.max, restored.count) == (moments.min, moments.max, moments.count)

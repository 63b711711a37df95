import pytest
import torch

from spectrogen.config.schema import AugmentConfig
from spectrogen.spectral.augment import (Augment, frequency_mask, gaussian_noise, temporal_shift, time_mask,
                                         time_stretch)


def _batch(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _seeded(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(6, 16, 20), (6, 2, 16, 20)])
def test_every_augmentation_keeps_the_shape_and_leaves_unselected_examples_untouched(shape):
    x = _batch(*shape)
    apply = torch.tensor([True, False, True, False, True, False])
    for out in (temporal_shift(x, 0.3, _seeded(), apply), gaussian_noise(x, 0.1, _seeded(), apply),
                frequency_mask(x, 5, _seeded(), apply), time_mask(x, 5, _seeded(), apply),
                time_stretch(x, 0.2, _seeded(), apply)):
        assert out.shape == x.shape and out.dtype == x.dtype and torch.equal(out[~apply], x[~apply])


def test_temporal_shift_is_a_roll_that_keeps_each_rows_values():
    x = _batch(8, 2, 16, 20)
    shifted = temporal_shift(x, 0.5, _seeded())
    # each row holds the same values in another cyclic order
    assert torch.equal(shifted.sort(dim=-1).values, x.sort(dim=-1).values)
    torch.testing.assert_close(shifted.double().mean(dim=-1), x.double().mean(dim=-1))
    # one shift per example, shared by all its rows and channels, never reversing time
    for example, original in zip(shifted, x):
        matches = [s for s in range(20) if torch.equal(example, original.roll(s, dims=-1))]
        assert len(matches) == 1
    assert not torch.equal(shifted, x)


@pytest.mark.parametrize("mask, axis", [(frequency_mask, -2), (time_mask, -1)])
def test_a_mask_sets_one_band_of_whole_rows_or_frames_to_zero(mask, axis):
    x = _batch(8, 32, 40) + 5.0  # no value is 0 before masking
    masked, original = mask(x, 6, _seeded()).movedim(axis, 1), x.movedim(axis, 1)  # (B, masked axis, other axis)
    changed = (masked != original).any(dim=-1)  # (B, rows or frames) that changed
    assert changed.any() and (changed.sum(dim=-1) <= 6).all()
    for lines, example in zip(changed, masked):
        index = lines.nonzero().flatten()
        if len(index):
            assert torch.equal(index, torch.arange(index[0], index[0] + len(index)))  # contiguous band
            assert torch.equal(example[index], torch.zeros_like(example[index]))  # whole lines set to 0
    assert torch.equal(masked[~changed], original[~changed])


def test_time_stretch_keeps_time_order_and_never_mixes_rows():
    ramp = torch.arange(30.0).expand(6, 8, 30) + 100.0 * torch.arange(8.0)[:, None]  # rising in time
    stretched = time_stretch(ramp, 0.3, _seeded())
    inside = stretched != 0  # the padding of a sped-up example is 0
    assert (stretched.diff(dim=-1)[inside[..., 1:] & inside[..., :-1]] >= 0).all()  # never reversed
    # each row stays within its own value range: rows are not interpolated together
    rows_low, rows_high = 100.0 * torch.arange(8.0), 100.0 * torch.arange(8.0) + 29.0
    valid = stretched.masked_fill(~inside, float("nan"))
    assert (valid.nan_to_num(1e9).amin(dim=-1) >= rows_low).all()
    assert (valid.nan_to_num(-1e9).amax(dim=-1) <= rows_high).all()
    assert torch.equal(stretched[..., 0], ramp[..., 0])  # the start stays in place


def test_time_stretch_by_at_most_zero_is_identity_and_rates_are_bounded():
    x = _batch(4, 8, 50)
    assert torch.equal(time_stretch(x, 0.0, _seeded()), x)
    stretched = time_stretch(torch.arange(50.0).expand(64, 1, 50), 0.1, _seeded())
    # frame 40 shows input time 40 / rate with rate in [0.9, 1.1]
    assert (stretched[:, 0, 40] >= 40 / 1.1 - 1e-4).all() and (stretched[:, 0, 40] <= 40 / 0.9 + 1e-4).all()


def test_gaussian_noise_has_the_requested_spread():
    noisy = gaussian_noise(torch.zeros(16, 32, 64), 0.25, _seeded())
    assert abs(noisy.std().item() - 0.25) < 0.01 and abs(noisy.mean().item()) < 0.01


def test_augment_module_is_off_by_default_and_reproducible():
    x = _batch(8, 1, 16, 32)
    assert Augment()(x, _seeded()) is x
    augment = Augment(AugmentConfig(temporal_shift=0.25, noise_std=0.05, freq_mask=4, time_mask=4, time_stretch=0.1))
    first, again = augment(x, _seeded(3)), augment(x, _seeded(3))
    assert torch.equal(first, again) and not torch.equal(first, x)
    assert first.shape == x.shape


def test_augment_probability_zero_changes_nothing_and_one_changes_every_example():
    x = _batch(8, 16, 32)
    never = Augment(AugmentConfig(noise_std=0.1, probability=0.0))
    always = Augment(AugmentConfig(noise_std=0.1, probability=1.0))
    assert torch.equal(never(x, _seeded()), x)
    assert (always(x, _seeded()) != x).flatten(1).any(dim=1).all()

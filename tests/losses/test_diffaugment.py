"""DiffAugment keeps shapes, only shifts along time or cuts out, never flips, and lets gradients through."""

import pytest
import torch

from spectrogen.errors import ConfigError
from spectrogen.losses.gan import DiffAugment, cutout, translate_time

B, C, F, T = 64, 2, 8, 16


def _ramp() -> torch.Tensor:
    """(B, C, F, T) with values 1..2 rising along time and a different level per frequency row."""
    time = torch.linspace(1.0, 2.0, T).view(1, 1, 1, T)
    rows = torch.arange(F, dtype=torch.float32).view(1, 1, F, 1) * 10.0
    return (time + rows).expand(B, C, F, T).clone()


def test_translation_shifts_each_example_along_time_only_never_reversed():
    x = _ramp()
    y = translate_time(x, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    kept = y != 0
    for b in range(B):
        frames = kept[b, 0, 0].nonzero().flatten()
        shift = int(frames[0]) if frames[0] > 0 else -int(T - 1 - frames[-1])
        # exactly the input moved by `shift` frames, zeros where nothing moved in
        expected = torch.roll(x[b], shifts=shift, dims=-1)
        expected[..., :max(shift, 0)] = 0
        expected[..., T + min(shift, 0):] = 0
        torch.testing.assert_close(y[b], expected)
        assert abs(shift) <= T // 8
    assert (kept.sum(dim=-1) < T).any()  # some examples did move


def test_cutout_zeroes_at_most_a_half_by_half_rectangle():
    x = _ramp()
    y = cutout(x, generator=torch.Generator().manual_seed(1))
    changed = y != x
    assert torch.all(y[changed] == 0)
    for b in range(B):
        rows = changed[b, 0].any(dim=1).nonzero().flatten()
        frames = changed[b, 0].any(dim=0).nonzero().flatten()
        if len(rows):
            assert rows[-1] - rows[0] + 1 <= F // 2 and frames[-1] - frames[0] + 1 <= T // 2
            # a rectangle: every (row, frame) between the extremes is cut
            assert changed[b, 0, rows[0]:rows[-1] + 1, frames[0]:frames[-1] + 1].all()
        assert torch.equal(changed[b, 0], changed[b, 1])  # the same cut on every channel
    assert changed.any()


def test_the_combined_policy_never_reverses_time_and_lets_gradients_reach_the_kept_entries():
    x = _ramp().requires_grad_(True)
    y = DiffAugment(["translation", "cutout"])(x, generator=torch.Generator().manual_seed(2))
    steps = y[..., 1:] - y[..., :-1]
    both_kept = (y[..., 1:] != 0) & (y[..., :-1] != 0)
    assert both_kept.any()
    assert torch.all(steps[both_kept] > 0)  # still rising along time wherever two neighbours survive
    y.sum().backward()
    assert int((x.grad == 1).sum()) == int((y != 0).sum())  # the ramp is never 0: y != 0 where kept


def test_empty_policy_is_the_identity_and_unknown_names_are_refused():
    x = torch.randn(2, 1, F, T, generator=torch.Generator().manual_seed(5))
    assert torch.equal(DiffAugment([])(x), x)
    with pytest.raises(ConfigError, match="training.diffaugment"):
        DiffAugment(["flip"])

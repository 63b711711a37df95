"""The U-Net and its time embedding: shapes at the sizes users train on, batch independence, conditioning."""

import pytest
import torch
from torch import nn

from spectrogen.models.diffusion.unet import SelfAttention, UNet, sinusoidal_embedding

from common import waking


@pytest.mark.parametrize("size, multipliers", [
    ((28, 28), (1, 2, 2)),  # MNIST: 3 levels halve twice, 28 -> 14 -> 7
    ((32, 32), (1, 2, 2)),  # the digits default
    ((64, 64), (1, 2, 2, 2)),
    ((32, 128), (1, 2, 2)),  # a non-square spectrogram: 32 mel bands x 128 frames
])
def test_output_has_the_input_shape(size, multipliers):
    net = UNet(1, 8, multipliers, res_blocks=1, attention=True, num_classes=3)
    x = torch.randn(2, 1, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = net(x, torch.tensor([0, 999]), torch.tensor([1, 3]))
    assert out.shape == x.shape
    assert net.downsampling_factor == 2 ** (len(multipliers) - 1)


def test_sizes_that_do_not_divide_are_refused_with_the_factor():
    net = UNet(1, 8, (1, 2, 2))
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.randn(1, 1, 30, 32, generator=torch.Generator().manual_seed(0)), torch.tensor([5]))


def test_untrained_output_is_zero():
    # the zero output layer: an untrained model predicts "no noise" rather than random noise
    net = UNet(1, 8, (1, 2))
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert net(x, torch.tensor([1, 2, 3])).abs().max() == 0


def test_each_example_is_denoised_independently_of_the_batch():
    torch.manual_seed(0)  # the U-Net's own initialisation
    net = waking(UNet(1, 8, (1, 2), res_blocks=1, attention=True, num_classes=2))
    x = torch.randn(3, 1, 8, 12, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0, 300, 999])
    labels = torch.tensor([0, 1, 2])  # 2 is the null class
    with torch.no_grad():
        batched = net(x, t, labels)
        one_by_one = torch.cat([net(x[i:i + 1], t[i:i + 1], labels[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, one_by_one, rtol=1e-4, atol=1e-5)


def test_output_depends_on_timestep_and_class_and_no_label_is_the_null_class():
    torch.manual_seed(0)  # the U-Net's own initialisation
    net = waking(UNet(1, 8, (1, 2), num_classes=3))
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(1)).expand(3, -1, -1, -1)
    with torch.no_grad():
        by_time = net(x, torch.tensor([0, 500, 999]), torch.tensor([0, 0, 0]))
        by_class = net(x, torch.tensor([100, 100, 100]), torch.tensor([0, 1, 2]))
        null = net(x[:1], torch.tensor([100]), torch.tensor([3]))
        unlabelled = net(x[:1], torch.tensor([100]))
    for a, b in ((by_time[0], by_time[1]), (by_time[1], by_time[2]), (by_class[0], by_class[1]),
                 (by_class[1], by_class[2])):
        assert (a - b).abs().mean() > 1e-4 * a.abs().mean()
    torch.testing.assert_close(null, unlabelled)


def test_attention_width_and_depth_follow_the_configuration():
    with_attention, without = UNet(1, 8, (1, 2, 2), attention=True), UNet(1, 8, (1, 2, 2), attention=False)
    # one attention layer, at the lowest resolution
    assert [m for m in with_attention.modules() if isinstance(m, SelfAttention)] == [with_attention.middle[1]]
    assert not any(isinstance(m, SelfAttention) for m in without.modules())
    small, wide, deep = (UNet(1, width, (1, 2), res_blocks=blocks) for width, blocks in ((8, 1), (16, 1), (8, 2)))
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(wide) > 3 * count(small) and count(deep) > count(small)
    assert max(m.out_channels for m in wide.modules() if isinstance(m, nn.Conv2d)) >= 32


def test_sinusoidal_embedding_closed_form():
    t = torch.tensor([0, 1, 17, 999])
    embedding = sinusoidal_embedding(t, 8)  # (4, 8)
    assert embedding.shape == (4, 8)
    angles = t[:, None].float() * torch.tensor([1.0, 10_000 ** -0.25, 10_000 ** -0.5, 10_000 ** -0.75])
    # angles up to 999 rad: the float32 frequency may be off by ~2.5e-7 relative (the rounding of its
    # log and exp, which may differ from one CPU to another), moving sin(999 f) by up to ~2.5e-5
    torch.testing.assert_close(embedding, torch.cat([angles.sin(), angles.cos()], dim=1), rtol=0, atol=5e-5)
    # all distinct: the network can tell every timestep apart
    codes = sinusoidal_embedding(torch.arange(1000), 32)
    assert torch.cdist(codes, codes).add(torch.eye(1000) * 10).min() > 1e-2
    assert sinusoidal_embedding(t, 7).shape == (4, 7)

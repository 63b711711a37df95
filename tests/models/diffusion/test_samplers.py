"""Samplers: with the exact denoiser of a tiny data set they land on it; seeds reproduce; guidance is the stated mix."""

import pytest
import torch

from spectrogen.models.diffusion.schedule import NoiseSchedule, ddim_sample, ddpm_sample, guided_denoiser
from spectrogen.models.diffusion.unet import UNet

from common import nearest, patterns, waking


def exact_denoiser(data: torch.Tensor, schedule: NoiseSchedule):
    """Returns the optimal eps-predictor for data spread evenly over the given examples (a mixture of points)."""
    flat = data.flatten(1)  # (K, D)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = schedule.alphas_cumprod[t].float()[:, None]  # (B, 1)
        squared = ((x.flatten(1)[:, None, :] - abar.sqrt()[:, :, None] * flat[None]) ** 2).sum(-1)  # (B, K)
        weights = torch.softmax(-squared / (2 * (1 - abar)), dim=1)  # posterior over the K examples
        x0 = weights @ flat  # (B, D) = E[x0 | x_t]
        return ((x.flatten(1) - abar.sqrt() * x0) / (1 - abar).sqrt()).view_as(x)

    return denoise


def _tiny_net(num_classes: int = 0) -> UNet:
    torch.manual_seed(0)  # the U-Net's own initialisation
    return waking(UNet(1, 8, (1, 2), res_blocks=1, attention=False, num_classes=num_classes))


@pytest.mark.parametrize("sampler", ["ddpm-1000", "ddim-10", "ddim-10-eta1"])
def test_with_the_exact_denoiser_samples_are_the_data_in_even_shares(sampler):
    schedule = NoiseSchedule(1000, "linear")
    data = patterns(8)
    denoise = exact_denoiser(data, schedule)
    g = torch.Generator().manual_seed(0)
    if sampler == "ddpm-1000":
        samples = ddpm_sample(denoise, schedule, (64, 1, 8, 8), generator=g, clip_sample=1.0)
    else:
        samples = ddim_sample(denoise, schedule, (64, 1, 8, 8), steps=10, eta=1.0 if "eta1" in sampler else 0.0,
                              generator=g)
    distance, index = nearest(samples, data)
    assert distance.max() < 1e-4
    # 64 draws from 4 equally likely examples: each gets 16 +- 3.5; 5 is beyond 3 standard deviations
    assert index.bincount(minlength=4).min() >= 5


def test_ddpm_over_fewer_steps_is_still_exact_for_the_exact_denoiser():
    schedule = NoiseSchedule(1000, "cosine")
    data = patterns(8)
    samples = ddpm_sample(exact_denoiser(data, schedule), schedule, (16, 1, 8, 8), steps=25,
                          generator=torch.Generator().manual_seed(3))
    assert nearest(samples, data)[0].max() < 1e-4


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_same_seed_same_samples_other_seed_other_samples(sampler):
    net = _tiny_net()
    schedule = NoiseSchedule(20, "linear")

    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        if sampler == "ddpm":
            return ddpm_sample(lambda x, t: net(x, t), schedule, (3, 1, 8, 8), generator=g)
        return ddim_sample(lambda x, t: net(x, t), schedule, (3, 1, 8, 8), steps=5, eta=0.5, generator=g)

    first, again, other = run(1), run(1), run(2)
    assert torch.equal(first, again)
    assert (first - other).abs().mean() > 0.1


def test_classifier_free_guidance_is_the_stated_combination():
    net = _tiny_net(num_classes=3)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([5, 50, 500, 900])
    labels = torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        conditional = net(x, t, labels)
        unconditional = net(x, t, net.null_labels(4, x.device))
        for scale in (0.0, 1.0, 3.0):
            guided = guided_denoiser(net, labels, scale)(x, t)
            torch.testing.assert_close(guided, unconditional + scale * (conditional - unconditional),
                                       rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(guided_denoiser(net, None, 3.0)(x, t), unconditional)

"""Proof that the diffusion model learns: trained briefly on four fixed 16x16 patterns, its DDIM
samples land far nearer the patterns than pure noise or an untrained model's samples do."""

import math

import torch

from spectrogen.config import build_config
from spectrogen.models.registry import build_method
from spectrogen.data.info import Batch, DataInfo

SIZE = 16
STEPS = 100


def patterns() -> torch.Tensor:
    """Returns four (4, 1, 16, 16) images in {-1, 1}: top half, left half, a diagonal, 4x4 checks."""
    y, x = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    stack = torch.stack([y < SIZE // 2, x < SIZE // 2, x > y, (x // 4 + y // 4) % 2 == 0])
    return stack.float()[:, None] * 2 - 1


def mean_nearest_distance(samples: torch.Tensor, data: torch.Tensor) -> float:
    """Returns the mean over samples of the RMS-per-pixel distance to the nearest data example."""
    distances = torch.cdist(samples.flatten(1), data.flatten(1)) / math.sqrt(data[0].numel())
    return distances.min(dim=1).values.mean().item()


def test_ddim_samples_of_a_briefly_trained_model_land_near_the_data():
    config = build_config({
        "model": {"name": "diffusion", "image_size": SIZE,
                  "diffusion": {"base_channels": 16, "channel_multipliers": [1, 2], "attention": False,
                                "timesteps": 50, "beta_schedule": "cosine", "prediction": "v",
                                "sampler": "ddim", "sampling_steps": 10}},
        "training": {"learning_rate": 2e-3, "batch_size": 16},
    })
    torch.manual_seed(0)
    data = patterns()
    method = build_method(config, DataInfo((1, SIZE, SIZE), []), "cpu")
    seed = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    untrained = method.sample(32, generator=seed())
    noise = torch.randn(32, 1, SIZE, SIZE, generator=seed())

    losses = []
    for _ in range(STEPS):
        losses.append(method.train_step(Batch(data[torch.randint(0, 4, (16,))]))["loss"].item())
    trained = method.sample(32, generator=seed())  # from the EMA weights

    d_trained = mean_nearest_distance(trained, data)
    d_noise = mean_nearest_distance(noise, data)
    d_untrained = mean_nearest_distance(untrained, data)
    # measured on this setup over four seeds: trained 0.40-0.59, noise and untrained 1.38 (ratios 0.29-0.43)
    assert d_trained < 0.6 * d_noise, (d_trained, d_noise)
    assert d_trained < 0.6 * d_untrained, (d_trained, d_untrained)
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])
    # not one pattern copied over and over: samples spread over at least three of the four
    closest = torch.cdist(trained.flatten(1), data.flatten(1)).argmin(dim=1)
    assert len(closest.unique()) >= 3

"""Trained briefly on four 16x16 patterns, the diffusion model's DDIM samples land far nearer them than
noise or an untrained model's samples do."""

import torch

from spectrogen.data.info import Batch

from common import cpu_method, nearest, patterns

SIZE = 16
STEPS = 100


def test_ddim_samples_of_a_briefly_trained_model_land_near_the_data():
    method = cpu_method("diffusion", (1, SIZE, SIZE), training={"learning_rate": 2e-3, "batch_size": 16},
                        image_size=SIZE, diffusion={"base_channels": 16, "channel_multipliers": [1, 2],
                                                    "attention": False, "timesteps": 50, "beta_schedule": "cosine",
                                                    "prediction": "v", "sampler": "ddim", "sampling_steps": 10})
    data = patterns(SIZE)
    seed = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    untrained = method.sample(32, generator=seed())
    noise = torch.randn(32, 1, SIZE, SIZE, generator=seed())

    losses = []
    for _ in range(STEPS):
        losses.append(method.train_step(Batch(data[torch.randint(0, 4, (16,))]))["loss"].item())
    trained = method.sample(32, generator=seed())  # from the EMA weights

    d_trained, d_noise, d_untrained = (nearest(x, data)[0].mean().item() for x in (trained, noise, untrained))
    assert d_trained < 0.6 * d_noise, (d_trained, d_noise)
    assert d_trained < 0.6 * d_untrained, (d_trained, d_untrained)
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])
    # not one pattern copied over and over: samples spread over at least three of the four
    assert len(nearest(trained, data)[1].unique()) >= 3

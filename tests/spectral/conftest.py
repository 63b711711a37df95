import numpy as np
import pytest
import torch


@pytest.fixture
def tones():
    """Returns tones(batch, samples, sample_rate=16000, tones=4, seed=0): (batch, samples) float32 clips, a few
    decaying sinusoids each, peak about 1."""

    def make(batch: int, samples: int, sample_rate: int = 16000, tones: int = 4, seed: int = 0) -> torch.Tensor:
        rng = np.random.default_rng(seed)
        t = np.arange(samples) / sample_rate
        clips = np.zeros((batch, samples))
        for b in range(batch):
            for _ in range(tones):
                frequency = rng.uniform(80.0, 0.4 * sample_rate)
                clips[b] += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi))
            clips[b] *= np.exp(-t * rng.uniform(0.0, 3.0)) / tones
        return torch.from_numpy(clips).float()

    return make

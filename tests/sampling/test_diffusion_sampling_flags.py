"""`spectrogen sample --sampler/--steps/--eta/--guidance-scale` reach a diffusion model, and only one."""

import pytest
import torch

from spectrogen.config import load_config
from spectrogen.errors import UsageError
from spectrogen.models import build_method
from spectrogen.sampling.generate import set_diffusion_sampling
from spectrogen.data.info import DataInfo


def tiny_diffusion():
    config = load_config("digits", [("model.image_size", 8), ("model.diffusion.base_channels", 8),
                                    ("model.diffusion.channel_multipliers", [1, 2]),
                                    ("model.diffusion.attention", False), ("model.diffusion.timesteps", 20),
                                    ("model.diffusion.sampling_steps", 10)])
    return build_method(config, DataInfo(shape=(1, 8, 8)))


def network_calls(method, n=2):
    """Returns how many times sampling `n` examples (in one batch) runs the U-Net."""
    calls = []
    network = method.networks[method.sampling_networks[0]]
    handle = network.register_forward_hook(lambda *_: calls.append(1))
    try:
        samples = method.sample(n, generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    assert samples.shape == (n, 1, 8, 8)
    return len(calls)


def test_flags_change_how_a_diffusion_model_samples():
    method = tiny_diffusion()
    assert network_calls(method) == 10  # the run's DDIM steps
    set_diffusion_sampling(method, sampler="ddim", steps=3, eta=0.5)
    assert network_calls(method) == 3
    set_diffusion_sampling(method, sampler="ddpm")
    assert network_calls(method) == 20  # ancestral DDPM runs every training timestep


def test_impossible_values_and_other_families_are_usage_errors():
    method = tiny_diffusion()
    with pytest.raises(UsageError, match="sampling_steps"):
        set_diffusion_sampling(method, steps=0)
    gan = build_method(load_config("test", [("model.image_size", 32), ("model.features_g", 4),
                                            ("model.features_d", 4)]), DataInfo(shape=(1, 32, 32)))
    with pytest.raises(UsageError, match="--sampler"):
        set_diffusion_sampling(gan, sampler="ddim")
    set_diffusion_sampling(gan)  # nothing asked: nothing to refuse

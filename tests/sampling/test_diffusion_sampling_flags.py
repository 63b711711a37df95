"""`spectrogen sample --sampler/--steps/--eta/--guidance-scale` reach a diffusion model, and only one."""

import pytest
import torch

from spectrogen.errors import UsageError
from spectrogen.sampling.generate import set_diffusion_sampling

from conftest import TINY_DIFFUSION, tiny_method


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
    method = tiny_method("diffusion", 8, diffusion={**TINY_DIFFUSION, "sampling_steps": 10})
    assert network_calls(method) == 10  # the run's DDIM steps
    set_diffusion_sampling(method, sampler="ddim", steps=3, eta=0.5)
    assert network_calls(method) == 3
    set_diffusion_sampling(method, sampler="ddpm")
    assert network_calls(method) == 20  # ancestral DDPM runs every training timestep


def test_impossible_values_and_other_families_are_usage_errors():
    with pytest.raises(UsageError, match="sampling_steps"):
        set_diffusion_sampling(tiny_method("diffusion", 8), steps=0)
    gan = tiny_method("dcgan")
    with pytest.raises(UsageError, match="--sampler"):
        set_diffusion_sampling(gan, sampler="ddim")
    set_diffusion_sampling(gan)  # nothing asked: nothing to refuse

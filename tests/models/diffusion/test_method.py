"""The `diffusion` training method: EMA, sampling options, labels, errors (shared contract: test_method_contract)."""

import pytest
import torch

from spectrogen.errors import ConfigError, UsageError
from spectrogen.models.diffusion.method import DiffusionMethod
from spectrogen.models.registry import method_class
from spectrogen.data.info import Batch

from common import TINY_DIFFUSION, cpu_method

SHAPE = (1, 8, 8)


def make_method(classes=(), shape=SHAPE, diffusion=None) -> DiffusionMethod:
    return cpu_method("diffusion", shape, classes, training={"batch_size": 4}, image_size=SHAPE[1],
                      diffusion={**TINY_DIFFUSION, **(diffusion or {})})


def batch(seed: int = 0) -> Batch:
    return Batch(torch.rand((4, *SHAPE), generator=torch.Generator().manual_seed(seed)) * 2 - 1)


def test_the_registry_builds_it_with_the_family_defaults():
    method = make_method()
    assert method_class("diffusion") is DiffusionMethod
    assert method.sampling_networks == ("unet_ema",)
    assert method.optimizers["unet"].param_groups[0]["lr"] == pytest.approx(2e-4)  # resolve.py's default
    assert method.ema_decay == pytest.approx(0.995)
    assert not method.conditional
    assert method.parameter_counts()["unet_ema"] == 0  # the average is not trained
    method.train(True)
    assert method.networks["unet"].training and not method.networks["unet_ema"].training


def test_a_step_moves_the_average_by_the_warm_up_decay():
    method = make_method()
    before = [p.detach().clone() for p in method.networks["unet"].parameters()]
    method.train_step(batch())
    decay = 2 / 11  # warmed up: (1 + n) / (10 + n) after n = 1 step
    live = list(method.networks["unet"].parameters())
    average = list(method.networks["unet_ema"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, live))
    for start, now, kept in zip(before, live, average):
        torch.testing.assert_close(kept, decay * start + (1 - decay) * now, rtol=1e-5, atol=1e-6)


def test_sample_defaults_come_from_the_configuration_and_options_override_them():
    method = make_method(diffusion={"sampling_steps": 3})
    calls: list[int] = []  # the batch size of every forward call of the sampling network
    method.networks["unet_ema"].register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    samples = method.sample(4, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4, *SHAPE) and samples.dtype == torch.float32
    assert calls == [4] * 3  # DDIM in model.diffusion.sampling_steps calls
    for n, options, expected in [(2, {"sampler": "ddpm"}, [2] * 20),  # ancestral DDPM visits every timestep
                                 (2, {"sampler": "ddpm", "steps": 5}, [2] * 5),
                                 (5, {"steps": 2, "batch_size": 2}, [2, 2, 2, 2, 1, 1])]:  # chunks 2, 2, 1
        calls.clear()
        method.sample(n, **options)
        assert calls == expected, options


def test_samples_do_not_depend_on_the_batch_size_with_deterministic_ddim():
    method = make_method()
    for seed in range(3):
        method.train_step(batch(seed=seed))
    whole = method.sample(5, generator=torch.Generator().manual_seed(1), eta=0.0, batch_size=5)
    chunked = method.sample(5, generator=torch.Generator().manual_seed(1), eta=0.0, batch_size=2)
    torch.testing.assert_close(whole, chunked, rtol=1e-4, atol=1e-5)
    stochastic = method.sample(5, generator=torch.Generator().manual_seed(1), eta=1.0)
    assert torch.equal(stochastic, method.sample(5, generator=torch.Generator().manual_seed(1), eta=1.0))


def test_conditional_data_gives_balanced_default_labels_and_guidance_doubles_the_batch():
    method = make_method(classes=("a", "b", "c"), diffusion={"guidance_scale": 2.0})
    assert method.conditional and method.num_classes == 3
    seen: list[torch.Tensor] = []
    method.networks["unet_ema"].register_forward_hook(lambda module, args, out: seen.append(args[2]))
    method.sample(4, steps=1)
    assert seen[0].tolist() == [0, 0, 1, 2, 3, 3, 3, 3]  # conditional half in class blocks, then the null class
    seen.clear()
    method.sample(2, labels=torch.tensor([2, 2]), steps=1, guidance_scale=1.0)
    assert seen[0].tolist() == [2, 2]


def test_class_dropout_replaces_labels_by_the_null_class_at_its_rate():
    method = make_method(classes=("a", "b"), diffusion={"class_dropout": 0.3})
    labels = method._training_labels(Batch(torch.zeros(20_000, *SHAPE), torch.zeros(20_000, dtype=torch.long)), 20_000)
    assert (labels == 2).float().mean().item() == pytest.approx(0.3, abs=0.015)  # 4.6 standard errors
    assert set(labels.unique().tolist()) == {0, 2}


def test_wrong_requests_are_usage_errors_that_say_what_to_do():
    method = make_method()
    with pytest.raises(UsageError, match="unconditional"):
        method.sample(2, labels=torch.tensor([0, 1]))
    with pytest.raises(UsageError, match="no option"):
        method.sample(2, temperature=0.5)
    with pytest.raises(UsageError, match="ddpm or ddim"):
        method.sample(2, sampler="euler")
    conditional = make_method(classes=("a", "b"))
    with pytest.raises(UsageError, match="gave 1 class labels"):
        conditional.sample(2, labels=torch.tensor([0]))
    with pytest.raises(UsageError, match=r"0\.\.1"):
        conditional.sample(2, labels=torch.tensor([0, 5]))


def test_data_that_the_unet_cannot_halve_is_a_config_error():
    with pytest.raises(ConfigError, match="multiples of 4"):
        # the configuration says 8x8, but the U-Net is built for what the data set really holds
        make_method(shape=(1, 12, 10), diffusion={"channel_multipliers": [1, 2, 2]})

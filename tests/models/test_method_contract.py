"""What every model family promises the one trainer: 0-d statistics, clipping measured before it clips, the
cosine schedule, a resume that continues with the same numbers, and samples that survive a networks-only load."""

import math

import pytest
import torch

from spectrogen.data.info import Batch

from common import TINY_DIFFUSION, cpu_method, saved_and_loaded

TINY = {  # family -> (model settings, example shape (C, H, W))
    "gan": ({"image_size": 32, "features_g": 4, "features_d": 4, "latent_dim": 8}, (1, 32, 32)),
    "diffusion": ({"image_size": 8, "diffusion": TINY_DIFFUSION}, (1, 8, 8)),
    "autoencoder": ({"latent_dim": 8, "autoencoder": {"hidden_channels": 16, "blocks": 2, "dropout": 0.2,
                                                      "variational": True}}, (1, 16, 32)),
}
FAMILIES = ["dcgan", "specgan", "cgan", "diffusion", "autoencoder"]
STATISTICS = {"diffusion": {"loss", "grad_norm"}, "autoencoder": {"loss", "mse", "l1", "kl", "grad_norm"}}
GAN_STATISTICS = {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"}  # and gp with wgan-gp
# the network whose gradient norm a step reports, and that statistic
CLIPPED = {"dcgan": ("discriminator", "grad_norm_d"), "specgan": ("discriminator", "grad_norm_d"),
           "cgan": ("discriminator", "grad_norm_d"), "diffusion": ("unet", "grad_norm"),
           "autoencoder": ("autoencoder", "grad_norm")}


def make(name: str, seed: int = 0, **training):
    """Returns a tiny `name` method on the CPU (three classes in the data), its initialisation seeded."""
    model, shape = TINY["gan" if name in ("dcgan", "specgan", "cgan") else name]
    return cpu_method(name, shape, ["low", "mid", "high"], seed, {"batch_size": 4, "epochs": 4, **training}, **model)


def batch(method, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.rand((4, *method.info.shape), generator=g) * 2 - 1, torch.arange(4) % 3)


def parameters(method) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": value for name, network in method.networks.items()
            for key, value in network.state_dict().items()}


@pytest.mark.parametrize("name, training", [(name, {"critic_steps": 1}) for name in FAMILIES]
                         + [("dcgan", {"loss": "lsgan", "critic_steps": 1}), ("cgan", {"loss": "hinge"})])
def test_a_step_returns_finite_0d_statistics_without_graphs(name, training):
    method = make(name, **training)
    statistics = method.train_step(batch(method))
    loss = method.config.training.loss
    assert set(statistics) == STATISTICS.get(name, GAN_STATISTICS | ({"gp"} if loss == "wgan-gp" else set()))
    for value in statistics.values():
        assert value.dim() == 0 and torch.isfinite(value) and not value.requires_grad
    if loss == "bce":
        assert 0 < statistics["d_real"] < 1 and 0 < statistics["d_fake"] < 1  # probabilities


@pytest.mark.parametrize("name", ["specgan", "diffusion", "autoencoder"])
def test_the_gradient_norm_is_measured_before_clipping(name):
    method = make(name, critic_steps=1, grad_clip=1e-3)
    network, key = CLIPPED[name]
    for seed in range(2):
        statistics = method.train_step(batch(method, seed))
    applied = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in method.networks[network].parameters()
                                                    if p.grad is not None]))
    assert statistics[key] > 10 * 1e-3
    assert applied <= 1e-3 * 1.001


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("name", ["dcgan", "diffusion", "autoencoder"])
def test_the_cosine_schedule_anneals_every_optimizer_over_the_epochs(name):
    method = make(name, lr_schedule="cosine", learning_rate=1e-3, learning_rate_d=1e-3, epochs=6)
    rates = []
    for epoch in range(6):
        rates.append(method.learning_rates())
        method.end_epoch(epoch + 1, {"loss": 1.0})
    assert set(rates[0]) == {f"lr_{key}" for key in method.optimizers}
    for key in rates[0]:
        assert [r[key] for r in rates] == pytest.approx([5e-4 * (1 + math.cos(math.pi * k / 6)) for k in range(6)])
    assert all(rate == pytest.approx(0.0, abs=1e-12) for rate in method.learning_rates().values())


@pytest.mark.parametrize("name", FAMILIES)
def test_a_resumed_method_continues_with_the_same_numbers(name):
    # mid-epoch: after an epoch end and one more step (the autoencoder's half-collected latent sums)
    method = make(name, critic_steps=2, ema_decay=0.9)
    torch.manual_seed(1)  # dropout, noise and latents draw from the global stream
    for seed in range(3):
        method.train_step(batch(method, seed))
    method.end_epoch(1, {"loss": 1.0})
    method.train_step(batch(method, 3))
    resumed = make(name, seed=99, critic_steps=2, ema_decay=0.9)  # other initial weights, all replaced
    resumed.load_state_dict(saved_and_loaded(method.state_dict()))
    runs = []
    for candidate in (method, resumed):
        torch.manual_seed(42)
        runs.append([candidate.train_step(batch(candidate, 10 + seed)) for seed in range(3)])
        candidate.end_epoch(2, {"loss": 1.0})
    # the same state and draws through the same operations: equal bit for bit on any CPU
    for first, second in zip(*runs):
        for key in first:
            torch.testing.assert_close(first[key], second[key], atol=0, rtol=0)
    torch.testing.assert_close(parameters(resumed), parameters(method), atol=0, rtol=0)  # averages, latent fit


@pytest.mark.parametrize("name", FAMILIES)
def test_the_networks_alone_or_a_sampling_only_export_give_the_same_samples(name):
    trained = make(name, critic_steps=1, ema_decay=0.9)
    for seed in range(3):
        trained.train_step(batch(trained, seed))
    trained.end_epoch(1, {"loss": 1.0})
    sampler = trained.sampling_networks[0]
    states = [saved_and_loaded(trained.state_dict()), {"networks": {sampler: trained.networks[sampler].state_dict()}}]
    for state in states:
        fresh = make(name, seed=1, critic_steps=1, ema_decay=0.9)  # another initialisation, overwritten by the load
        fresh.load_state_dict(state, networks_only=True)
        g = lambda: torch.Generator().manual_seed(11)  # noqa: E731
        # the same weights and draws through the same operations: equal bit for bit on any CPU
        torch.testing.assert_close(fresh.sample(6, generator=g()), trained.sample(6, generator=g()), atol=0, rtol=0)

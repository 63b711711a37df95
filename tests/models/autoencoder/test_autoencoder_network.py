"""The mel autoencoder network: shapes, size checks, KL, eval-mode determinism and batch consistency."""

import pytest
import torch

from spectrogen.errors import ConfigError
from spectrogen.models.autoencoder.network import MelAutoencoder, kl_divergence


@pytest.mark.parametrize("shape, blocks", [((1, 128, 256), 4), ((1, 32, 64), 2), ((2, 16, 24), 3), ((1, 5, 8), 1)])
@pytest.mark.parametrize("variational", [False, True])
def test_reconstruction_and_latent_shapes(shape, blocks, variational):
    torch.manual_seed(0)
    net = MelAutoencoder(shape, hidden=8, blocks=blocks, latent_dim=6, variational=variational)
    x = torch.randn(3, *shape)
    reconstruction, mean, log_variance = net(x)
    assert reconstruction.shape == x.shape
    assert mean.shape == (3, 6)
    assert (log_variance is not None) == variational
    if variational:
        assert log_variance.shape == (3, 6)
    assert net.decode(torch.randn(2, 6)).shape == (2, *shape)


def test_frames_not_divisible_by_the_downsampling_factor_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model\.autoencoder\.blocks=3.*multiple of 8.*60 frames"):
        MelAutoencoder((1, 128, 60), hidden=8, blocks=3, latent_dim=4)


def test_kl_is_zero_for_the_prior_and_positive_elsewhere():
    zeros = torch.zeros(5, 7)
    assert kl_divergence(zeros, zeros).item() == 0.0
    torch.manual_seed(0)
    for _ in range(20):
        mean, log_variance = torch.randn(4, 7), 2 * torch.randn(4, 7)
        assert kl_divergence(mean, log_variance).item() > 0.0
    # closed form of one dimension: KL(N(1, e^0) || N(0, 1)) = 0.5
    assert kl_divergence(torch.ones(1, 1), torch.zeros(1, 1)).item() == pytest.approx(0.5)


@pytest.mark.parametrize("variational", [False, True])
def test_eval_mode_is_deterministic_and_batch_independent_and_training_mode_is_not(variational):
    torch.manual_seed(0)
    net = MelAutoencoder((1, 16, 32), hidden=8, blocks=2, latent_dim=4, dropout=0.5, variational=variational)
    x = torch.randn(4, 1, 16, 32)
    net.eval()
    with torch.no_grad():
        first, second = net(x)[0], net(x)[0]
    assert torch.equal(first, second)
    net.train()
    with torch.no_grad():
        assert not torch.allclose(net(x)[0], net(x)[0])  # dropout (and sampling for the VAE) act
    torch.manual_seed(0)
    net = MelAutoencoder((1, 16, 32), hidden=8, blocks=2, latent_dim=4, dropout=0.3, variational=variational).eval()
    x = torch.randn(6, 1, 16, 32)
    with torch.no_grad():
        alone = torch.cat([net(x[i:i + 1])[0] for i in range(len(x))])
        torch.testing.assert_close(net(x)[0], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variational, mean, factor, seed, atol", [
    (True, torch.zeros(3), torch.eye(3), 0, (0.03, 0.04)),  # the VAE's prior: standard normal
    (False, torch.tensor([1.0, -2.0]), torch.tensor([[0.5, 0.0], [0.3, 0.2]]), 1, (0.02, 0.01)),  # the fitted one
])
def test_prior_latents_are_standard_normal_or_follow_the_fitted_gaussian(variational, mean, factor, seed, atol):
    net = MelAutoencoder((1, 8, 8), hidden=8, blocks=1, latent_dim=len(mean), variational=variational)
    if not variational:
        net.latent_mean.copy_(mean)
        net.latent_scale_tril.copy_(factor)
    z = net.prior_latents(20000, torch.Generator().manual_seed(seed))
    torch.testing.assert_close(z.mean(0), mean, atol=atol[0], rtol=0)
    torch.testing.assert_close(torch.cov(z.T), factor @ factor.T, atol=atol[1], rtol=0)
    first = net.prior_latents(5, torch.Generator().manual_seed(2))
    torch.testing.assert_close(net.prior_latents(5, torch.Generator().manual_seed(2)), first)  # reproducible

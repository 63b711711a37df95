"""Values of the GAN losses on known logits, the registry, and the WGAN-GP penalty against closed forms."""

import math

import pytest
import torch

from spectrogen.config import build_config
from spectrogen.errors import ConfigError
from spectrogen.losses.gan import LOSSES, BCELoss, build_loss, gradient_penalty

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.0])


def _bce(logit: float, target: float) -> float:
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(target * math.log(p) + (1.0 - target) * math.log(1.0 - p))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_the_registry_holds_the_four_losses():
    assert LOSSES.names() == ["bce", "hinge", "lsgan", "wgan-gp"]


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_bce_on_known_logits(smoothing):
    loss = BCELoss(label_smoothing=smoothing)
    expected_d = (_mean(_bce(v, 1.0 - smoothing) for v in REAL.tolist())
                  + _mean(_bce(v, 0.0) for v in FAKE.tolist()))
    expected_g = _mean(_bce(v, 1.0) for v in FAKE.tolist())  # non-saturating: fakes labelled real
    # three logits, no long sum: float32 rounding alone (measured 4e-8) on any CPU
    assert loss.discriminator(REAL, FAKE).item() == pytest.approx(expected_d, rel=1e-6)
    assert loss.generator(FAKE).item() == pytest.approx(expected_g, rel=1e-6)
    assert loss.score(REAL).item() == pytest.approx(_mean(1 / (1 + math.exp(-v)) for v in REAL.tolist()))  # D(x)
    if not smoothing:  # zero logits: 2 log 2 for D, log 2 for G
        assert loss.discriminator(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2 * math.log(2))
        assert loss.generator(torch.zeros(4)).item() == pytest.approx(math.log(2))


def test_lsgan_hinge_and_wasserstein_on_known_logits():
    real, fake = REAL.tolist(), FAKE.tolist()
    lsgan, hinge, wgan = LOSSES.get("lsgan")(), LOSSES.get("hinge")(), LOSSES.get("wgan-gp")()
    assert lsgan.discriminator(REAL, FAKE).item() == pytest.approx(
        0.5 * _mean((v - 1) ** 2 for v in real) + 0.5 * _mean(v ** 2 for v in fake))
    assert lsgan.generator(FAKE).item() == pytest.approx(0.5 * _mean((v - 1) ** 2 for v in fake))
    assert hinge.discriminator(REAL, FAKE).item() == pytest.approx(
        _mean(max(0.0, 1 - v) for v in real) + _mean(max(0.0, 1 + v) for v in fake))
    assert hinge.generator(FAKE).item() == pytest.approx(-_mean(fake))
    assert wgan.discriminator(REAL, FAKE).item() == pytest.approx(_mean(fake) - _mean(real))
    assert wgan.generator(FAKE).item() == pytest.approx(-_mean(fake))
    assert wgan.score(REAL).item() == pytest.approx(_mean(real))  # raw critic output


def test_build_loss_takes_its_options_from_the_configuration():
    wgan = build_loss(build_config({"model": {"name": "specgan"}, "training": {"gp_lambda": 3.0}}).training)
    assert wgan.gp_lambda == 3.0
    bce = build_loss(build_config({"model": {"name": "dcgan"}, "training": {"label_smoothing": 0.2}}).training)
    assert bce.real_target == pytest.approx(0.8)
    assert bce.gp_lambda == 0.0
    with pytest.raises(ConfigError, match="training.label_smoothing"):
        build_loss(build_config({"model": {"name": "specgan"}, "training": {"label_smoothing": 0.2}}).training)


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared_and_differentiable():
    generator = torch.Generator().manual_seed(0)
    # (C, F, T): the gradient of <w, x> is w for every example and alpha
    weight = torch.randn(2, 5, 7, generator=generator)
    critic = lambda x: (x * weight).sum(dim=(1, 2, 3))  # noqa: E731
    real, fake = torch.randn(4, 2, 5, 7, generator=generator), torch.randn(4, 2, 5, 7, generator=generator)
    # ~50, from norms summed in another order: a relative tolerance
    torch.testing.assert_close(gradient_penalty(critic, real, fake), (weight.norm() - 1.0) ** 2, rtol=1e-5, atol=1e-5)
    generator = torch.Generator().manual_seed(2)
    weight = torch.randn(1, 3, 3, generator=generator, requires_grad=True)
    gradient_penalty(critic, torch.randn(2, 1, 3, 3, generator=generator),
                     torch.randn(2, 1, 3, 3, generator=generator)).backward()
    w = weight.detach()
    torch.testing.assert_close(weight.grad, 2 * (w.norm() - 1.0) * w / w.norm())  # d/dw (‖w‖ - 1)²


def test_gradient_penalty_is_per_example_over_all_non_batch_axes():
    # D(x) = ½‖x‖²: the gradient at x̂ is x̂ itself, so each example's norm is ‖x̂‖ over (C, F, T)
    critic = lambda x: 0.5 * x.pow(2).sum(dim=(1, 2, 3))  # noqa: E731
    generator = torch.Generator().manual_seed(1)
    real, fake = torch.randn(3, 2, 4, 6, generator=generator), torch.randn(3, 2, 4, 6, generator=generator)
    alpha = torch.tensor([0.0, 0.25, 1.0])
    mixed = real + alpha.view(3, 1, 1, 1) * (fake - real)
    norms = mixed.flatten(1).norm(dim=1)
    expected = ((norms - 1.0) ** 2).mean()
    # ~30, from norms summed in another order: a relative tolerance
    torch.testing.assert_close(gradient_penalty(critic, real, fake, alpha=alpha), expected, rtol=1e-5, atol=1e-5)
    # a norm over axes (1, 2) only (per time frame) would give a different number
    per_frame = mixed.pow(2).sum(dim=(1, 2)).sqrt()
    assert not torch.allclose(((per_frame - 1.0) ** 2).mean(), expected)

"""Every registered GAN loss and the WGAN-GP penalty against closed forms; options from the configuration; the
mode-seeking term pairs examples of one class, punishes look-alike pairs and pushes them apart."""

import math

import pytest
import torch

from spectrogen.config import build_config
from spectrogen.errors import ConfigError
from spectrogen.losses.gan import LOSSES, build_loss, gradient_penalty, mode_seeking_loss, same_class_pairs

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.0])


def _bce(logit: float, target: float) -> float:
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(target * math.log(p) + (1.0 - target) * math.log(1.0 - p))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


R, F = REAL.tolist(), FAKE.tolist()  # as floats
CLOSED_FORMS = {  # name -> (the critic's loss, the generator's, the reported D(x) of REAL), written out
    "bce": (_mean(_bce(v, 1.0) for v in R) + _mean(_bce(v, 0.0) for v in F),
            _mean(_bce(v, 1.0) for v in F),  # non-saturating: fakes labelled real
            _mean(1 / (1 + math.exp(-v)) for v in R)),  # a probability
    "lsgan": (0.5 * _mean((v - 1) ** 2 for v in R) + 0.5 * _mean(v ** 2 for v in F),
              0.5 * _mean((v - 1) ** 2 for v in F), _mean(R)),
    "hinge": (_mean(max(0.0, 1 - v) for v in R) + _mean(max(0.0, 1 + v) for v in F), -_mean(F), _mean(R)),
    "wgan-gp": (_mean(F) - _mean(R), -_mean(F), _mean(R)),  # the raw critic output
}


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_registered_loss_matches_its_closed_form_on_known_logits(name):
    critic, generator, score = CLOSED_FORMS[name]
    loss = LOSSES.get(name)()
    # three logits, no long sum: float32 rounding alone on any CPU
    assert loss.discriminator(REAL, FAKE).item() == pytest.approx(critic, rel=1e-6)
    assert loss.generator(FAKE).item() == pytest.approx(generator, rel=1e-6)
    assert loss.score(REAL).item() == pytest.approx(score)


def test_build_loss_takes_its_options_from_the_configuration():
    wgan = build_loss(build_config({"model": {"name": "specgan"}, "training": {"gp_lambda": 3.0}}).training)
    bce = build_loss(build_config({"model": {"name": "dcgan"}, "training": {"label_smoothing": 0.2}}).training)
    assert wgan.gp_lambda == 3.0 and bce.gp_lambda == 0.0
    expected = _mean(_bce(v, 0.8) for v in R) + _mean(_bce(v, 0.0) for v in F)  # one-sided: real targets only
    assert bce.discriminator(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
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
    expected = ((mixed.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    # ~30, from norms summed in another order: a relative tolerance
    torch.testing.assert_close(gradient_penalty(critic, real, fake, alpha=alpha), expected, rtol=1e-5, atol=1e-5)
    # a norm over axes (1, 2) only (per time frame) would give a different number
    per_frame = mixed.pow(2).sum(dim=(1, 2)).sqrt()
    assert not torch.allclose(((per_frame - 1.0) ** 2).mean(), expected)


def test_mode_seeking_pairs_are_disjoint_and_of_one_class():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0, 2, 1])
    first, second = same_class_pairs(len(labels), labels, torch.device("cpu"))
    used = torch.cat([first, second]).tolist()
    assert len(used) == len(set(used))  # every example in one pair at most
    assert torch.equal(labels[first], labels[second])
    assert len(first) == 3  # 3 of each class: one pair per class, the odd one out left alone
    plain_first, plain_second = same_class_pairs(5, None, torch.device("cpu"))
    assert plain_first.tolist() == [0, 2] and plain_second.tolist() == [1, 3]


def test_mode_seeking_costs_look_alike_samples_more_than_varied_ones():
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    varied = torch.randn(16, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    alike = varied[:1].expand(16, 1, 4, 4) + 1e-3 * varied  # one sample, barely perturbed
    assert mode_seeking_loss(alike, z) > 100 * mode_seeking_loss(varied, z)  # ratio 1/1e-3 of the spreads
    same = mode_seeking_loss(varied[:1].expand(16, 1, 4, 4).clone(), z)
    assert torch.isfinite(same)  # a fully collapsed batch stays finite (the epsilon), not inf


def test_mode_seeking_without_a_pair_of_one_class_is_zero_with_a_gradient():
    generator = torch.Generator().manual_seed(0)
    fake = torch.randn(3, 1, 2, 2, generator=generator, requires_grad=True)
    loss = mode_seeking_loss(fake, torch.randn(3, 4, generator=generator), torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(fake.grad) == 0


def test_minimising_the_mode_seeking_term_makes_a_generator_that_ignored_its_noise_use_it():
    # a linear generator whose weight on z starts near zero: every z gives (almost) the same output
    torch.manual_seed(0)
    generator = torch.nn.Linear(8, 32)
    with torch.no_grad():
        generator.weight.mul_(1e-3)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    labels = torch.arange(16) % 4

    def spread() -> float:
        return float(generator(torch.randn(256, 8)).detach().std(dim=0).mean())

    before = spread()
    for _ in range(50):
        z = torch.randn(16, 8)
        optimizer.zero_grad()
        mode_seeking_loss(generator(z), z, labels).backward()
        optimizer.step()
    assert spread() > 20 * before  # the outputs now vary with z

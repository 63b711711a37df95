"""The GAN TrainingMethod: family defaults, critic steps, EMA, sampling, mode seeking (shared: test_method_contract)."""

import pytest
import torch

from spectrogen.errors import ConfigError, InputError
from spectrogen.models import build_method
from spectrogen.models.conditional import balanced_labels
from spectrogen.models.method import make_average, update_average, warmed_up_decay
from spectrogen.data.info import Batch, DataInfo

from test_method_contract import make  # a tiny GAN of 32 x 32 examples in three classes, its initialisation seeded

SIZE = 32


def _batch(seed: int = 0, n: int = 4) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.rand(n, 1, SIZE, SIZE, generator=g) * 2 - 1, torch.randint(0, 3, (n,), generator=g))


def _flat(network) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in network.parameters()])


def test_family_defaults_reach_the_optimizers():
    specgan, dcgan = make("specgan"), make("dcgan", learning_rate_d=1e-3)
    group = specgan.optimizers["generator"].param_groups[0]
    assert specgan.critic_steps == 5 and group["lr"] == pytest.approx(1e-4) and group["betas"] == (0.5, 0.9)
    assert dcgan.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(1e-3)
    assert dcgan.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)


def test_the_generator_moves_only_every_critic_steps_th_call():
    method = make("specgan", critic_steps=3)
    generator, critic = method.networks["generator"], method.networks["discriminator"]
    moved_g, moved_d = [], []
    for call in range(6):
        before_g, before_d = _flat(generator), _flat(critic)
        method.train_step(_batch(call))
        moved_g.append(not torch.equal(before_g, _flat(generator)))
        moved_d.append(not torch.equal(before_d, _flat(critic)))
    assert moved_g == [False, False, True, False, False, True]
    assert all(moved_d)


def test_ema_update_is_the_exponential_average_and_copies_buffers():
    torch.manual_seed(0)  # the initialisation and the perturbations below
    network = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = make_average(network)
    kept = _flat(average)
    with torch.no_grad():
        for p in network.parameters():
            p.add_(torch.randn_like(p))
    network.train()(torch.randn(5, 3))  # moves the running statistics
    update_average(average, network, decay=0.9)
    torch.testing.assert_close(_flat(average), 0.9 * kept + 0.1 * _flat(network))
    torch.testing.assert_close(average[1].running_mean, network[1].running_mean)
    assert not any(p.requires_grad for p in average.parameters())


def test_the_average_warms_up_so_a_short_run_does_not_sample_near_initial_weights():
    assert [warmed_up_decay(0.999, n) for n in (0, 1, 90)] == pytest.approx([0.1, 2 / 11, 0.91])
    assert warmed_up_decay(0.999, 10**6) == 0.999 and warmed_up_decay(0.5, 100) == 0.5
    method = make("specgan", ema_decay=0.999, critic_steps=2)  # seeds the steps' latents too
    initial = _flat(method.networks["generator_ema"])
    for call in range(2 * 30):  # 30 generator updates
        method.train_step(_batch(call))
    live, average = _flat(method.networks["generator"]), _flat(method.networks["generator_ema"])
    # without the warm-up the average would still be 0.999^30 = 97% the initial weights
    assert torch.linalg.norm(average - live) < 0.25 * torch.linalg.norm(initial - live)


def test_sampling_uses_the_ema_generator_when_kept():
    method = make("dcgan", ema_decay=0.5)
    assert method.sampling_networks == ("generator_ema",)
    method.train_step(_batch())
    assert not torch.equal(_flat(method.networks["generator"]), _flat(method.networks["generator_ema"]))
    assert "generator_ema" not in method.parameter_counts()
    convolutions = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    last = [m for m in method.networks["generator_ema"].modules() if isinstance(m, convolutions)][-1]
    with torch.no_grad():
        for p in (last.weight, last.bias):
            p.zero_()
    assert torch.equal(method.sample(3), torch.zeros(3, 1, SIZE, SIZE))  # tanh(0) everywhere


def test_cgan_samples_equal_numbers_per_class_by_default():
    method = make("cgan")
    default = method.sample(7, generator=torch.Generator().manual_seed(3))
    explicit = method.sample(7, generator=torch.Generator().manual_seed(3), labels=balanced_labels(7, 3))
    torch.testing.assert_close(default, explicit)
    other = method.sample(7, generator=torch.Generator().manual_seed(3), labels=torch.zeros(7, dtype=torch.long))
    assert not torch.allclose(default, other)


def test_expected_errors_name_the_fix():
    with pytest.raises(InputError, match="labelled"):
        make("cgan").train_step(Batch(torch.zeros(4, 1, SIZE, SIZE)))
    with pytest.raises(ConfigError, match="model.image_size"):
        build_method(make("dcgan").config, DataInfo((1, 64, 64), []), "cpu")
    with pytest.raises(ConfigError, match="model.num_classes"):
        build_method(make("cgan").config, DataInfo((1, SIZE, SIZE), []), "cpu")


@pytest.mark.parametrize("name", ["cgan", "specgan"])
def test_the_mode_seeking_term_moves_the_generator_with_its_weight_and_is_logged_apart(name):
    def first_step(weight: float):
        method = make(name, critic_steps=1, mode_seeking=weight)  # same networks, same z: only the weight differs
        statistics = method.train_step(_batch(n=8))
        optimizer = method.optimizers["generator"]
        # Adam's first moment after one step is (1 - beta1) x the gradient; the step itself is about lr x its sign
        first_moment = torch.cat([optimizer.state[p]["exp_avg"].flatten() for p in optimizer.param_groups[0]["params"]])
        return statistics, first_moment

    (plain, moved_plain), (once, moved_once), (twice, moved_twice) = (first_step(w) for w in (0.0, 1.0, 2.0))
    assert "mode_seeking" not in plain and float(once["mode_seeking"]) > 0
    assert float(once["mode_seeking"]) == pytest.approx(float(twice["mode_seeking"]))  # logged unweighted
    # loss_g stays the adversarial loss, comparable with runs without the term
    assert float(plain["loss_g"]) == pytest.approx(float(once["loss_g"])) == pytest.approx(float(twice["loss_g"]))
    # the term's share of the generator's gradient doubles with its weight
    assert not torch.allclose(moved_plain, moved_once)
    share_once, share_twice = moved_once - moved_plain, moved_twice - moved_plain
    assert float((share_twice - 2 * share_once).norm() / share_twice.norm()) < 1e-6  # linear up to float round-off

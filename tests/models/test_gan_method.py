"""The GAN TrainingMethod: step statistics, critic steps, EMA, schedules, sampling and checkpoint round trips."""

import pytest
import torch

from spectrogen.config import build_config
from spectrogen.errors import ConfigError, InputError
from spectrogen.models import build_method
from spectrogen.models.conditional import balanced_labels
from spectrogen.models.ema import make_average, update_average, warmed_up_decay
from spectrogen.data.info import Batch, DataInfo

from common import saved_and_loaded

SIZE = 32
CLASSES = ["low", "mid", "high"]


def _config(name: str, **training):
    return build_config({"model": {"name": name, "image_size": SIZE, "features_g": 4, "features_d": 4,
                                   "latent_dim": 8},
                         "training": {"batch_size": 4, "epochs": 4, **training}})


def _method(name: str = "dcgan", **training):
    return build_method(_config(name, **training), DataInfo((1, SIZE, SIZE), CLASSES), "cpu")


def _batch(seed: int = 0, n: int = 4) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.rand(n, 1, SIZE, SIZE, generator=g) * 2 - 1, torch.randint(0, 3, (n,), generator=g))


def _flat(network) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in network.parameters()])


@pytest.mark.parametrize("name, loss", [("dcgan", "bce"), ("specgan", "wgan-gp"), ("cgan", "hinge"),
                                        ("dcgan", "lsgan")])
def test_a_step_returns_0d_statistics(name, loss):
    torch.manual_seed(0)  # the initialisation and the step's latents draw from the global stream
    method = _method(name, loss=loss, critic_steps=1)
    statistics = method.train_step(_batch())
    expected = {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"}
    assert expected | ({"gp"} if loss == "wgan-gp" else set()) == set(statistics)
    for value in statistics.values():
        assert isinstance(value, torch.Tensor) and value.dim() == 0 and torch.isfinite(value)
    if loss == "bce":
        assert 0 < statistics["d_real"] < 1 and 0 < statistics["d_fake"] < 1  # probabilities


def test_family_defaults_reach_the_optimizers():
    specgan, dcgan = _method("specgan"), _method("dcgan", learning_rate_d=1e-3)
    group = specgan.optimizers["generator"].param_groups[0]
    assert specgan.critic_steps == 5 and group["lr"] == pytest.approx(1e-4) and group["betas"] == (0.5, 0.9)
    assert dcgan.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(1e-3)
    assert dcgan.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)


def test_the_generator_moves_only_every_critic_steps_th_call():
    method = _method("specgan", critic_steps=3)
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
    torch.manual_seed(0)  # the initialisation and the steps' latents
    method = _method("specgan", ema_decay=0.999, critic_steps=2)
    initial = _flat(method.networks["generator_ema"])
    for call in range(2 * 30):  # 30 generator updates
        method.train_step(_batch(call))
    live, average = _flat(method.networks["generator"]), _flat(method.networks["generator_ema"])
    # without the warm-up the average would still be 0.999^30 = 97% the initial weights
    assert torch.linalg.norm(average - live) < 0.25 * torch.linalg.norm(initial - live)


def test_sampling_uses_the_ema_generator_when_kept():
    method = _method("dcgan", ema_decay=0.5)
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


def test_grad_norm_is_measured_before_clipping():
    torch.manual_seed(0)  # the initialisation and the step's latents
    method = _method("specgan", critic_steps=1, grad_clip=1e-3)
    statistics = method.train_step(_batch())
    critic = method.networks["discriminator"]
    clipped = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in critic.parameters()]))
    assert statistics["grad_norm_d"] > 10 * 1e-3
    assert clipped <= 1e-3 * 1.01


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")  # epochs without steps
def test_cosine_schedule_anneals_over_the_epochs():
    method = _method("dcgan", lr_schedule="cosine", learning_rate=1e-3)
    rates = []
    for epoch in range(4):
        rates.append(method.learning_rates()["lr_generator"])
        method.end_epoch(epoch, {})
    assert rates[0] == pytest.approx(1e-3)
    assert rates == sorted(rates, reverse=True)
    assert method.learning_rates()["lr_generator"] == pytest.approx(0.0, abs=1e-12)


def test_cgan_samples_equal_numbers_per_class_by_default():
    torch.manual_seed(0)  # the initialisation
    method = _method("cgan")
    default = method.sample(7, generator=torch.Generator().manual_seed(3))
    explicit = method.sample(7, generator=torch.Generator().manual_seed(3), labels=balanced_labels(7, 3))
    torch.testing.assert_close(default, explicit)
    other = method.sample(7, generator=torch.Generator().manual_seed(3), labels=torch.zeros(7, dtype=torch.long))
    assert not torch.allclose(default, other)


def test_expected_errors_name_the_fix():
    with pytest.raises(InputError, match="labelled"):
        _method("cgan").train_step(Batch(torch.zeros(4, 1, SIZE, SIZE)))
    with pytest.raises(ConfigError, match="model.image_size"):
        build_method(_config("dcgan"), DataInfo((1, 64, 64), []), "cpu")
    with pytest.raises(ConfigError, match="model.num_classes"):
        build_method(_config("cgan"), DataInfo((1, SIZE, SIZE), []), "cpu")


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_networks_only_load_gives_identical_samples(name):
    torch.manual_seed(0)
    trained = _method(name, ema_decay=0.9)
    for call in range(3):
        trained.train_step(_batch(call))
    state = saved_and_loaded(trained.state_dict())
    torch.manual_seed(1)  # a different initialisation, overwritten by the load
    fresh = _method(name, ema_decay=0.9)
    fresh.load_state_dict(state, networks_only=True)
    g = lambda: torch.Generator().manual_seed(11)  # noqa: E731
    # the same weights and latents through the same operations: equal bit for bit on any CPU
    torch.testing.assert_close(fresh.sample(6, generator=g()), trained.sample(6, generator=g()), atol=0, rtol=0)


def test_a_resumed_method_continues_with_the_same_numbers():
    torch.manual_seed(0)
    method = _method("specgan", critic_steps=2, ema_decay=0.9)
    for call in range(3):
        method.train_step(_batch(call))
    state = saved_and_loaded(method.state_dict())
    resumed = _method("specgan", critic_steps=2, ema_decay=0.9)
    resumed.load_state_dict(state)
    assert resumed.calls == 3
    runs = []
    for candidate in (method, resumed):
        torch.manual_seed(42)
        runs.append([candidate.train_step(_batch(10 + call)) for call in range(3)])
    for first, second in zip(*runs):
        for key in first:  # the same state and draws through the same operations: equal bit for bit
            torch.testing.assert_close(first[key], second[key], atol=0, rtol=0)


@pytest.mark.parametrize("name", ["cgan", "specgan"])
def test_the_mode_seeking_term_moves_the_generator_with_its_weight_and_is_logged_apart(name):
    def first_step(weight: float):
        torch.manual_seed(0)  # same networks, same z: only the weight differs
        method = _method(name, critic_steps=1, mode_seeking=weight)
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
    error = float((share_twice - 2 * share_once).norm() / share_twice.norm())
    assert error < 1e-6  # linear up to float round-off (measured 3e-11 and 4e-11)

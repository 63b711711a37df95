"""The noise schedule against closed forms: betas, forward noising, posterior, DDPM and DDIM steps, v."""

import math

import pytest
import torch

from spectrogen.models.diffusion.schedule import NoiseSchedule

SHAPE = (3, 1, 4, 5)
# the schedule and every tensor compared below are float64: the tight tolerances hold in any summation order


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(SHAPE, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    return x0, eps


def test_linear_alphas_cumprod_is_the_product_of_ddpm_betas():
    schedule = NoiseSchedule(1000, "linear")
    betas = [1e-4 + (0.02 - 1e-4) * s / 999 for s in range(1000)]
    for t in (0, 1, 10, 500, 999):
        expected = math.prod(1.0 - b for b in betas[: t + 1])
        assert schedule.alphas_cumprod[t].item() == pytest.approx(expected, rel=1e-10)
    # the value DDPM's linear schedule is known for: sqrt(abar_T) ~ 0.0064, data almost fully destroyed
    assert schedule.alphas_cumprod[-1].item() == pytest.approx(4.04e-5, rel=0.01)


def test_cosine_alphas_cumprod_matches_the_closed_form_where_unclipped():
    schedule = NoiseSchedule(1000, "cosine")
    unclipped = schedule.betas < 0.999
    f = lambda x: torch.cos((x + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731  (Nichol & Dhariwal's s = 0.008)
    closed = f((torch.arange(1000, dtype=torch.float64) + 1) / 1000) / f(torch.zeros(1, dtype=torch.float64))
    assert unclipped[:990].all()
    torch.testing.assert_close(schedule.alphas_cumprod[unclipped], closed[unclipped], rtol=1e-9, atol=1e-12)
    assert torch.all(schedule.alphas_cumprod[1:] < schedule.alphas_cumprod[:-1])


@pytest.mark.parametrize("beta_schedule", ["linear", "cosine"])
def test_short_schedules_still_end_in_noise(beta_schedule):
    schedule = NoiseSchedule(50, beta_schedule)
    assert schedule.alphas_cumprod[0].item() > 0.95
    assert schedule.alphas_cumprod[-1].item() < 1e-3


@pytest.mark.parametrize("beta_schedule", ["linear", "cosine"])
def test_add_noise_is_the_closed_form_for_given_noise(beta_schedule):
    schedule = NoiseSchedule(1000, beta_schedule)
    x0, eps = _pair()
    t = torch.tensor([0, 437, 999])
    x_t = schedule.add_noise(x0, eps, t)
    for i, step in enumerate(t.tolist()):
        abar = schedule.alphas_cumprod[step].item()
        expected = math.sqrt(abar) * x0[i] + math.sqrt(1 - abar) * eps[i]
        torch.testing.assert_close(x_t[i], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("t, s", [(1, 0), (500, 499), (999, 998), (600, 580), (40, -1)])
def test_posterior_equals_the_gaussian_conjugate_closed_form(t, s):
    schedule = NoiseSchedule(1000, "linear")
    x0, x_t = _pair(2)
    mean, variance = schedule.posterior(x0, x_t, t, s)
    if s < 0:  # onto the clean data: x_0 itself
        torch.testing.assert_close(mean, x0, rtol=0, atol=1e-12)
        assert variance == pytest.approx(0.0, abs=1e-15)
        return
    # q(x_s | x_t, x0) is proportional to N(x_t; sqrt(a) x_s, 1-a) N(x_s; sqrt(abar_s) x0, 1-abar_s)
    abar_s = schedule.alphas_cumprod[s].item()
    a = schedule.alphas_cumprod[t].item() / abar_s
    expected_var = 1 / (a / (1 - a) + 1 / (1 - abar_s))
    expected_mean = expected_var * (math.sqrt(a) / (1 - a) * x_t + math.sqrt(abar_s) / (1 - abar_s) * x0)
    assert variance == pytest.approx(expected_var, rel=1e-9)
    torch.testing.assert_close(mean, expected_mean, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_ddpm_step_with_the_true_noise_draws_around_the_posterior_mean(prediction):
    schedule = NoiseSchedule(1000, "linear", prediction)
    x0, eps = _pair(3)
    t = 250
    x_t = schedule.add_noise(x0, eps, t)
    output = schedule.target(x0, eps, torch.full((SHAPE[0],), t))
    step = schedule.step(output, t, x_t, generator=torch.Generator().manual_seed(5))
    mean, variance = schedule.posterior(x0, x_t, t)
    torch.testing.assert_close(step.mean, mean, rtol=1e-9, atol=1e-10)
    assert step.std == pytest.approx(math.sqrt(variance), rel=1e-12)
    z = torch.randn(SHAPE, generator=torch.Generator().manual_seed(5)).double()
    torch.testing.assert_close(step.prev_sample, mean + step.std * z, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("t", [10, 500, 999])
def test_ddim_eta0_with_the_true_noise_jumps_to_x0_in_one_step(prediction, t):
    schedule = NoiseSchedule(1000, "cosine", prediction)
    schedule.set_timesteps(1)  # one step: whatever t, the next level is the clean data
    x0, eps = _pair(4)
    step = schedule.step(schedule.target(x0, eps, t), t, schedule.add_noise(x0, eps, t), eta=0.0)
    torch.testing.assert_close(step.prev_sample, x0, rtol=0, atol=1e-9 / math.sqrt(schedule.alphas_cumprod[t]))


def test_ddim_eta0_with_the_true_noise_stays_on_the_forward_trajectory():
    schedule = NoiseSchedule(1000, "linear")
    schedule.set_timesteps(20)
    x0, eps = _pair(6)
    t = int(schedule.timesteps[3])
    s = schedule.previous_timestep(t)
    step = schedule.step(eps, t, schedule.add_noise(x0, eps, t), eta=0.0)
    torch.testing.assert_close(step.prev_sample, schedule.add_noise(x0, eps, s), rtol=1e-9, atol=1e-10)


def test_v_epsilon_x0_conversions_round_trip():
    schedule = NoiseSchedule(1000, "cosine", "v")
    x0, eps = _pair(7)
    t = torch.tensor([3, 400, 990])
    x_t = schedule.add_noise(x0, eps, t)
    v = schedule.velocity(x0, eps, t)
    x0_back, eps_back = schedule.split_prediction(x_t, v, t)
    torch.testing.assert_close(x0_back, x0, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(eps_back, eps, rtol=1e-9, atol=1e-9)
    x0_from_eps, _ = NoiseSchedule(1000, "cosine", "epsilon").split_prediction(x_t, eps_back, t)
    torch.testing.assert_close(x0_from_eps, x0, rtol=1e-7, atol=1e-7)
    # v is a rotation of (eps, x0): its norm is preserved
    torch.testing.assert_close((v**2 + (schedule.add_noise(x0, eps, t)) ** 2).sum(),
                               (x0**2 + eps**2).sum(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("steps", [1, 7, 50, 1000])
def test_set_timesteps_descends_from_the_last_training_step(steps):
    schedule = NoiseSchedule(1000)
    timesteps = schedule.set_timesteps(steps)
    assert len(timesteps) == steps and int(timesteps[0]) == 999
    assert torch.all(timesteps[1:] < timesteps[:-1]) and int(timesteps[-1]) >= 0
    assert schedule.previous_timestep(int(timesteps[-1])) == -1
    if steps == 1000:
        assert timesteps.tolist() == list(range(999, -1, -1))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="prediction"):
        NoiseSchedule(10, prediction="x0")
    with pytest.raises(ValueError, match="beta_schedule"):
        NoiseSchedule(10, beta_schedule="quadratic")
    with pytest.raises(ValueError, match="between 1 and"):
        NoiseSchedule(10).set_timesteps(11)

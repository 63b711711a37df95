"""The noise schedule of a diffusion model (as diffusers' schedulers): abar_t = prod_{s<=t} (1 - beta_s), timesteps
0..T-1 (-1: the clean data), every conversion between x_0, eps and v; then the sampling loops (DDPM, DDIM, guidance)
over a denoiser (x_t (B, C, H, W), t (B,) int64) -> prediction: the same `generator` (or `noise`), the same samples."""

from __future__ import annotations

import math
from typing import Callable, Literal, NamedTuple, Optional, Sequence, Union

import torch

from spectrogen.models.diffusion.unet import UNet

Timestep = Union[int, torch.Tensor]  # one int for the whole batch, or (B,) int64
BetaSchedule = Literal["linear", "cosine"]
Prediction = Literal["epsilon", "v"]


def linear_betas(timesteps: int, start: float = 1e-4, end: float = 0.02) -> torch.Tensor:
    """Returns the (T,) float64 betas of DDPM's linear schedule, scaled by 1000/T: any T spans the same levels."""
    scale = 1000.0 / timesteps
    return torch.linspace(scale * start, min(scale * end, 0.999), timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, max_beta: float = 0.999, offset: float = 0.008) -> torch.Tensor:
    """Returns the (T,) float64 betas of the cosine schedule (Nichol & Dhariwal 2021), clipped at `max_beta`."""
    fractions = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    alpha_bar = torch.cos((fractions + offset) / (1.0 + offset) * math.pi / 2) ** 2
    return (1.0 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


class StepOutput(NamedTuple):
    """One reverse step: prev_sample = mean + std * z with z ~ N(0, I) (z = 0 when std is 0)."""

    prev_sample: torch.Tensor  # (B, C, H, W) x at the previous timestep
    pred_original_sample: torch.Tensor  # (B, C, H, W) the model's estimate of x_0
    mean: torch.Tensor  # (B, C, H, W)
    std: float


class NoiseSchedule:
    """Betas, forward noising, target/prediction conversions and the reverse step (DDPM or DDIM)."""

    def __init__(self, num_train_timesteps: int = 1000, beta_schedule: BetaSchedule = "linear",
                 prediction: Prediction = "epsilon"):
        if num_train_timesteps < 2:
            raise ValueError(f"a schedule needs at least 2 timesteps, got {num_train_timesteps}")
        if prediction not in ("epsilon", "v"):
            raise ValueError(f"prediction must be 'epsilon' or 'v', got {prediction!r}")
        make_betas = {"linear": linear_betas, "cosine": cosine_betas}.get(beta_schedule)
        if make_betas is None:
            raise ValueError(f"beta_schedule must be 'linear' or 'cosine', got {beta_schedule!r}")
        self.num_train_timesteps = num_train_timesteps
        self.beta_schedule = beta_schedule
        self.prediction = prediction
        self.betas = make_betas(num_train_timesteps)  # (T,) float64
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self._tables: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}
        self.set_timesteps(num_train_timesteps)

    def set_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """Returns (and keeps as `.timesteps`) `num_inference_steps` descending timesteps ending near 0, "trailing"
        (Lin et al. 2024): the first is always T-1, so that few-step samplers start from pure noise."""
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise ValueError(f"sampling steps must be between 1 and the {self.num_train_timesteps} training "
                             f"timesteps, got {num_inference_steps}")
        stride = self.num_train_timesteps / num_inference_steps
        trailing = torch.arange(self.num_train_timesteps, 0, -stride, dtype=torch.float64)
        self.timesteps = (trailing.round() - 1).long()  # (n,) descending
        self.num_inference_steps = num_inference_steps
        return self.timesteps

    def previous_timestep(self, timestep: int) -> int:
        """Returns the timestep after `timestep` in `.timesteps`, or -1 (clean data) after the last."""
        later = self.timesteps[self.timesteps < timestep]
        return int(later[0]) if len(later) else -1

    def alpha_bar(self, timestep: int) -> float:
        """Returns abar at one timestep as a float; abar(-1) = 1 (no noise)."""
        return 1.0 if timestep < 0 else float(self.alphas_cumprod[timestep])

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: Timestep) -> torch.Tensor:
        """Returns x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, same shape as `x0` (B, C, H, W)."""
        abar = self._at("alphas_cumprod", timesteps, x0)
        return abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: Timestep) -> torch.Tensor:
        """Returns v = sqrt(abar_t) noise - sqrt(1 - abar_t) x_0, the target of v-prediction."""
        abar = self._at("alphas_cumprod", timesteps, x0)
        return abar.sqrt() * noise - (1.0 - abar).sqrt() * x0

    def target(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: Timestep) -> torch.Tensor:
        """Returns what the network is trained to output: the noise, or v."""
        return noise if self.prediction == "epsilon" else self.velocity(x0, noise, timesteps)

    def split_prediction(self, sample: torch.Tensor, model_output: torch.Tensor,
                         timesteps: Timestep) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (x_0, eps) implied by the network's output at x_t = `sample`."""
        abar = self._at("alphas_cumprod", timesteps, sample)
        signal, noise_level = abar.sqrt(), (1.0 - abar).sqrt()
        if self.prediction == "epsilon":
            epsilon = model_output
            x0 = (sample - noise_level * epsilon) / signal
        else:
            x0 = signal * sample - noise_level * model_output
            epsilon = noise_level * sample + signal * model_output
        return x0, epsilon

    def posterior(self, x0: torch.Tensor, sample: torch.Tensor, timestep: int,
                  prev_timestep: Optional[int] = None) -> tuple[torch.Tensor, float]:
        """Returns (mean, variance) of q(x_s | x_t = sample, x_0), s = prev_timestep (default t-1; Ho et al. eq. 7)."""
        prev_timestep = timestep - 1 if prev_timestep is None else prev_timestep
        abar_t, abar_s = self.alpha_bar(timestep), self.alpha_bar(prev_timestep)
        a = abar_t / abar_s
        mean = (math.sqrt(abar_s) * (1.0 - a) / (1.0 - abar_t)) * x0 \
            + (math.sqrt(a) * (1.0 - abar_s) / (1.0 - abar_t)) * sample
        variance = (1.0 - abar_s) / (1.0 - abar_t) * (1.0 - a)
        return mean, variance

    def step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor, *,
             eta: Optional[float] = None, generator: Optional[torch.Generator] = None,
             clip_sample: Optional[float] = None) -> StepOutput:
        """Returns x at the timestep after `timestep` in `.timesteps`: eta=None an ancestral DDPM step, a float a DDIM
        step (0 deterministic, 1 DDPM's variance). `clip_sample` clamps the predicted x_0 to [-c, c]."""
        prev_timestep = self.previous_timestep(timestep)
        x0, epsilon = self.split_prediction(sample, model_output, timestep)
        abar_t, abar_s = self.alpha_bar(timestep), self.alpha_bar(prev_timestep)
        if clip_sample is not None:
            x0 = x0.clamp(-clip_sample, clip_sample)
            # keep eps consistent with the clipped x_0, so the step stays on the line through x_t
            epsilon = (sample - math.sqrt(abar_t) * x0) / math.sqrt(1.0 - abar_t)
        if eta is None:
            mean, variance = self.posterior(x0, sample, timestep, prev_timestep)
            std = math.sqrt(variance)
        else:
            std = eta * math.sqrt((1.0 - abar_s) / (1.0 - abar_t) * (1.0 - abar_t / abar_s))
            direction = math.sqrt(max(1.0 - abar_s - std**2, 0.0))
            mean = math.sqrt(abar_s) * x0 + direction * epsilon
        prev_sample = mean + std * standard_normal(sample.shape, generator, sample) if std > 0.0 else mean
        return StepOutput(prev_sample, x0, mean, std)

    def _at(self, name: str, timesteps: Timestep, like: torch.Tensor) -> torch.Tensor:
        """Returns table `name` at `timesteps`, shaped to broadcast against `like` (B, ...)."""
        if isinstance(timesteps, int):
            return torch.tensor(float(getattr(self, name)[timesteps]), dtype=like.dtype, device=like.device)
        key = (name, like.device, like.dtype)
        if key not in self._tables:
            # cast on the CPU first: some devices (mps) have no float64
            self._tables[key] = getattr(self, name).to(like.dtype).to(like.device)
        values = self._tables[key][timesteps.to(like.device)]  # (B,)
        return values.reshape(-1, *([1] * (like.ndim - 1)))


def standard_normal(shape: torch.Size, generator: Optional[torch.Generator], like: torch.Tensor) -> torch.Tensor:
    """Returns N(0, I) noise of `shape` as `like` (device, dtype), drawn where `generator` is (CPU: same anywhere)."""
    device = generator.device if generator is not None else like.device
    noise = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
    return noise.to(device=like.device, dtype=like.dtype)


Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def guided_denoiser(network: UNet, labels: Optional[torch.Tensor] = None, guidance_scale: float = 1.0) -> Denoiser:
    """Returns the denoiser of `network` for `labels` (B,) with classifier-free guidance (Ho & Salimans 2022): scale 1
    is the conditional model, 0 the unconditional, above 1 trades diversity for class fidelity."""
    if labels is None or network.num_classes == 0:
        return lambda x, t: network(x, t)
    if guidance_scale == 1.0:
        return lambda x, t: network(x, t, labels)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # one forward pass over [conditional; unconditional] instead of two
        both = network(torch.cat([x, x]), torch.cat([t, t]),
                       torch.cat([labels, network.null_labels(len(labels), labels.device)]))
        conditional, unconditional = both.float().chunk(2)
        return unconditional + guidance_scale * (conditional - unconditional)

    return denoise


def initial_noise(shape: Sequence[int], generator: Optional[torch.Generator] = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Returns x_T ~ N(0, I) of `shape` (B, C, H, W) on `device`, drawn from `generator`."""
    return standard_normal(torch.Size(shape), generator, torch.empty(0, device=device))


def ddpm_sample(denoiser: Denoiser, schedule: NoiseSchedule, shape: Sequence[int], *,
                steps: Optional[int] = None, generator: Optional[torch.Generator] = None,
                device: torch.device | str = "cpu", noise: Optional[torch.Tensor] = None,
                clip_sample: Optional[float] = None) -> torch.Tensor:
    """Returns (B, C, H, W) samples of ancestral DDPM (Ho et al. 2020), one network call per training timestep;
    fewer `steps` respace the chain (Nichol & Dhariwal 2021), each drawing from the exact posterior."""
    return ddim_sample(denoiser, schedule, shape, steps=steps or schedule.num_train_timesteps, eta=None,
                       generator=generator, device=device, noise=noise, clip_sample=clip_sample)


@torch.no_grad()
def ddim_sample(denoiser: Denoiser, schedule: NoiseSchedule, shape: Sequence[int], *, steps: int = 50,
                eta: Optional[float] = 0.0, generator: Optional[torch.Generator] = None,
                device: torch.device | str = "cpu", noise: Optional[torch.Tensor] = None,
                clip_sample: Optional[float] = None) -> torch.Tensor:
    """Returns (B, C, H, W) samples of DDIM (Song et al. 2021) in `steps` calls; eta 0 deterministic, None DDPM."""
    x = initial_noise(shape, generator, device) if noise is None else noise.to(device=device, dtype=torch.float32)
    schedule.set_timesteps(steps)
    for t in schedule.timesteps.tolist():
        output = denoiser(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))
        x = schedule.step(output.float(), t, x, eta=eta, generator=generator, clip_sample=clip_sample).prev_sample
    return x

"""Sampling loops (ancestral DDPM, DDIM) over a denoiser, any callable (x_t (B, C, H, W), t (B,) int64) -> output in
the schedule's prediction type, and classifier-free guidance; the same `generator` (or `noise`), the same samples."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from spectrogen.models.diffusion.schedule import NoiseSchedule, standard_normal
from spectrogen.models.diffusion.unet import UNet

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def guided_denoiser(network: UNet, labels: Optional[torch.Tensor] = None, guidance_scale: float = 1.0) -> Denoiser:
    """Returns the denoiser of `network` for `labels` (B,) with classifier-free guidance (Ho & Salimans 2022),
    uncond + scale * (cond - uncond): 1 is the conditional model, 0 the unconditional, above 1 trades diversity
    for class fidelity."""
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
    """Returns (B, C, H, W) samples of DDIM (Song et al. 2021) in `steps` network calls; eta=0 is deterministic,
    eta=None takes ancestral DDPM steps instead."""
    x = initial_noise(shape, generator, device) if noise is None else noise.to(device=device, dtype=torch.float32)
    schedule.set_timesteps(steps)
    for t in schedule.timesteps.tolist():
        output = denoiser(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))
        x = schedule.step(output.float(), t, x, eta=eta, generator=generator, clip_sample=clip_sample).prev_sample
    return x

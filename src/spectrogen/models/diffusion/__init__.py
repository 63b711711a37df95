"""The diffusion family (DDPM, Ho et al. 2020): U-Net, noise schedule and samplers, composed by `method.py`."""

from spectrogen.models.diffusion.schedule import (NoiseSchedule, StepOutput, ddim_sample, ddpm_sample, guided_denoiser,
                                                  initial_noise)
from spectrogen.models.diffusion.unet import UNet

__all__ = ["NoiseSchedule", "StepOutput", "UNet", "ddim_sample", "ddpm_sample", "guided_denoiser", "initial_noise"]

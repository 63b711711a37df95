"""The `diffusion` family: a U-Net trained to predict the noise (or v) of a DDPM, sampled with DDPM or DDIM; with
classes, labels are dropped in training (`class_dropout`) so that it is also the unconditional model guidance needs."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch.nn import functional as F

from spectrogen.config.loader import resolve
from spectrogen.config.schema import ExperimentConfig
from spectrogen.data.info import Batch, DataInfo
from spectrogen.errors import ConfigError, InputError, UsageError
from spectrogen.models.conditional import balanced_labels, checked_labels
from spectrogen.models.diffusion.schedule import NoiseSchedule, ddim_sample, guided_denoiser, initial_noise
from spectrogen.models.diffusion.unet import UNet
from spectrogen.models.method import (TrainingMethod, class_count, eval_mode, make_average, update_average,
                                      warmed_up_decay)
from spectrogen.models.registry import MODELS

REFERENCE_EXAMPLES = 256  # real examples kept as the reference of the per-epoch figure (report/diffusion_figures.py)


def build_unet(config: ExperimentConfig, info: DataInfo) -> UNet:
    """Returns a fresh U-Net for `config.model.diffusion` and examples of shape `info.shape` (C, H, W)."""
    settings = config.model.diffusion
    channels, height, width = info.shape
    factor = 2 ** (len(settings.channel_multipliers) - 1)
    if height % factor or width % factor:
        raise ConfigError(f"the data set's examples are {height}x{width}, but model.diffusion.channel_multipliers="
                          f"{settings.channel_multipliers} halves them {len(settings.channel_multipliers) - 1} times: "
                          f"use fewer levels, or prepare the data with a height and width that are multiples of "
                          f"{factor}")
    classes = class_count(config, info)  # conditional only with at least two
    return UNet(channels, settings.base_channels, settings.channel_multipliers, settings.res_blocks,
                settings.attention, settings.dropout, classes if classes >= 2 else 0)


@MODELS.register("diffusion")
class DiffusionMethod(TrainingMethod):
    """DDPM training (MSE on eps or v) with EMA weights; DDPM/DDIM sampling with classifier-free guidance."""

    name = "diffusion"

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device, *,
                 sampling_only: bool = False):
        config = resolve(config)
        super().__init__(config, info, device)
        settings, training = config.model.diffusion, config.training
        # the U-Net is fully convolutional: it is built for the data set's shape, whatever model.image_size says
        unet = build_unet(config, info).to(device)
        self.num_classes = unet.num_classes
        self.conditional = self.num_classes > 0
        self.schedule = NoiseSchedule(settings.timesteps, settings.beta_schedule, settings.prediction)
        self.clip_sample = None if config.data.normalization == "none" else 1.0
        self.networks = {"unet": unet}
        self.sampling_networks = ("unet",)
        if sampling_only:
            return
        # resolve() always sets training.ema_decay for this family; 0 makes the average the live weights
        self.ema_decay = float(training.ema_decay)
        self.networks["unet_ema"] = make_average(unet)
        self.sampling_networks = ("unet_ema",)
        # AdamW with weight_decay 0 (the family default) is exactly Adam
        self.add_optimizer("unet", torch.optim.AdamW, training.learning_rate)
        self.grad_clip = training.grad_clip
        self.steps = 0
        self.reference: Optional[torch.Tensor] = None  # (K, C, H, W) on the device

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x0 = batch.x.to(self.device, non_blocking=True)  # (B, C, H, W), in the networks' memory format already
        kept = 0 if self.reference is None else len(self.reference)
        if kept < REFERENCE_EXAMPLES:  # the first real examples seen, for the per-epoch distance of samples to data
            # kept on the device: a copy to the host here would wait for the step to finish
            more = x0[: REFERENCE_EXAMPLES - kept].detach().float().clone()
            self.reference = more if self.reference is None else torch.cat([self.reference, more])
        labels = self._training_labels(batch, x0.shape[0])  # (B,) or None
        t = torch.randint(0, self.schedule.num_train_timesteps, (x0.shape[0],), device=self.device)  # (B,)
        noise = torch.randn_like(x0)
        x_t = self.schedule.add_noise(x0, noise, t)
        with self.autocast():
            output = self.step_network("unet")(x_t, t, labels)  # (B, C, H, W)
        loss = F.mse_loss(output.float(), self.schedule.target(x0, noise, t))
        grad_norm = self.optimizer_step("unet", loss, self.grad_clip)
        self.steps += 1
        update_average(self.networks["unet_ema"], self.networks["unet"], warmed_up_decay(self.ema_decay, self.steps))
        return {"loss": loss.detach(), "grad_norm": grad_norm}

    def train(self, mode: bool = True) -> None:
        self.networks["unet"].train(mode)  # the average only ever samples: it stays in eval mode

    def _training_labels(self, batch: Batch, size: int) -> Optional[torch.Tensor]:
        if not self.conditional:
            return None
        if batch.y is None:
            raise InputError("this diffusion model is class-conditional but the batch has no labels")
        labels = batch.y.to(self.device, non_blocking=True).long()
        dropout = self.config.model.diffusion.class_dropout
        if dropout > 0:
            dropped = torch.rand(size, device=self.device) < dropout
            labels = torch.where(dropped, torch.full_like(labels, self.num_classes), labels)
        return labels

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, steps: Optional[int] = None, eta: Optional[float] = None,
               guidance_scale: Optional[float] = None, sampler: Optional[str] = None,
               batch_size: Optional[int] = None, **options: Any) -> torch.Tensor:
        """Returns `n` samples (n, C, H, W) in the data's normalised range, from the EMA U-Net; options left None take
        `model.diffusion`'s. All the initial noise is drawn first: with DDIM eta=0 `batch_size` changes nothing."""
        if options:
            raise UsageError(f"diffusion sampling has no option(s) {', '.join(sorted(options))}; it takes "
                             f"steps, eta, guidance_scale, sampler and batch_size")
        settings = self.config.model.diffusion
        sampler = sampler or settings.sampler
        if sampler not in ("ddpm", "ddim"):
            raise UsageError(f"unknown diffusion sampler {sampler!r}: use ddpm or ddim")
        eta = settings.eta if eta is None else float(eta)
        guidance_scale = settings.guidance_scale if guidance_scale is None else float(guidance_scale)
        batch_size = batch_size or self.config.training.batch_size
        if sampler == "ddim":
            steps = steps or settings.sampling_steps
        else:  # ancestral steps, over all training timesteps unless asked for fewer
            steps, eta = steps or self.schedule.num_train_timesteps, None
        labels = self._sampling_labels(n, labels)
        noise = initial_noise((n, *self.info.shape), generator, self.device)  # (n, C, H, W)
        parts = []
        with eval_mode(self.networks[self.sampling_networks[0]]) as network:
            for start in range(0, n, batch_size):
                chunk = slice(start, start + batch_size)
                denoiser = guided_denoiser(network, None if labels is None else labels[chunk], guidance_scale)
                with self.autocast():
                    parts.append(ddim_sample(denoiser, self.schedule, noise[chunk].shape, steps=steps, eta=eta,
                                             generator=generator, device=self.device, noise=noise[chunk],
                                             clip_sample=self.clip_sample))
        return torch.cat(parts).float().contiguous() if parts else noise

    def _sampling_labels(self, n: int, labels: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if not self.conditional:
            if labels is not None:
                raise UsageError("this diffusion model is unconditional (its data set had fewer than two classes): "
                                 "leave out the class labels")
            return None
        if labels is None:
            return balanced_labels(n, self.num_classes, device=self.device)
        return checked_labels(labels, n, self.num_classes).to(self.device)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["diffusion"] = {"steps": self.steps}
        return state

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        super().load_state_dict(state, networks_only=networks_only)
        if not networks_only and "diffusion" in state:
            self.steps = int(state["diffusion"]["steps"])

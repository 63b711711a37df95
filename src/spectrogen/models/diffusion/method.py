"""The `diffusion` family: a U-Net trained to predict the noise (or v) of a DDPM, sampled with DDPM or DDIM.

The method owns the network, its moving average (which sampling uses), the
optimiser and the noise schedule; the trainer owns epochs, data, checkpoints and statistics.
With two or more classes in the data the U-Net is class-conditional: labels are dropped with
probability `model.diffusion.class_dropout` in training, so that the same network is also the
unconditional model that classifier-free guidance needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.nn import functional as F

from spectrogen.config.resolve import resolve
from spectrogen.config.schema import ExperimentConfig
from spectrogen.errors import ConfigError, InputError, UsageError
from spectrogen.models.diffusion.samplers import ddim_sample, ddpm_sample, guided_denoiser, initial_noise
from spectrogen.models.diffusion.schedule import NoiseSchedule
from spectrogen.models.diffusion.unet import UNet
from spectrogen.models.ema import make_average, update_average
from spectrogen.models.registry import MODELS
from spectrogen.models.method import fused_optimizer
from spectrogen.data.info import Batch, DataInfo
from spectrogen.models.method import TrainingMethod

# real examples kept (on the training device) as the reference of the quick per-epoch quality figure
REFERENCE_EXAMPLES = 256


def num_classes_of(config: ExperimentConfig, info: DataInfo) -> int:
    """Returns how many classes the U-Net conditions on: 0 (unconditional) unless there are at least two."""
    count = config.model.num_classes or info.num_classes
    if info.num_classes > count:
        raise ConfigError(f"model.num_classes={count} but the data set has {info.num_classes} classes: "
                          f"raise model.num_classes or leave it unset")
    return count if count >= 2 else 0


def build_unet(config: ExperimentConfig, info: DataInfo) -> UNet:
    """Returns a fresh U-Net for `config.model.diffusion` and examples of shape `info.shape` (C, H, W)."""
    settings = config.model.diffusion
    channels, height, width = info.shape
    factor = 2 ** (len(settings.channel_multipliers) - 1)
    if height % factor or width % factor:
        raise ConfigError(
            f"the data set's examples are {height}x{width}, but model.diffusion.channel_multipliers="
            f"{settings.channel_multipliers} halves them {len(settings.channel_multipliers) - 1} times: use fewer "
            f"levels, or prepare the data with a height and width that are multiples of {factor}"
        )
    return UNet(channels, settings.base_channels, settings.channel_multipliers, settings.res_blocks,
                settings.attention, settings.dropout, num_classes_of(config, info))


@MODELS.register("diffusion")
class DiffusionMethod(TrainingMethod):
    """DDPM training (MSE on eps or v) with EMA weights; DDPM/DDIM sampling with classifier-free guidance."""

    name = "diffusion"

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device):
        config = resolve(config)
        super().__init__(config, info, device)
        settings, training = config.model.diffusion, config.training
        # the U-Net is fully convolutional: it is built for the data set's shape, whatever model.image_size says
        unet = build_unet(config, info).to(device)
        self.num_classes = unet.num_classes
        self.conditional = self.num_classes > 0
        self.schedule = NoiseSchedule(settings.timesteps, settings.beta_schedule, settings.prediction)
        # resolve() always sets training.ema_decay for this family; 0 makes the average the live weights
        self.ema_decay = float(training.ema_decay)
        self.networks = {"unet": unet, "unet_ema": make_average(unet)}
        self.sampling_networks = ("unet_ema",)
        # AdamW with weight_decay 0 (the family default) is exactly Adam
        self.optimizers = {"unet": torch.optim.AdamW(unet.parameters(), lr=training.learning_rate,
                                                     betas=(training.beta1, training.beta2),
                                                     weight_decay=training.weight_decay,
                                                     **fused_optimizer(device))}
        # "plateau" is the trainer's: it halves the learning rates when the loss stops improving
        if training.lr_schedule == "cosine":
            self.schedulers = {"unet": torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizers["unet"],
                                                                                  T_max=training.epochs)}
        self.grad_clip = training.grad_clip
        self.clip_sample = None if config.data.normalization == "none" else 1.0
        self.steps = 0
        self.reference: Optional[torch.Tensor] = None  # (K, C, H, W) on the device until plotted

    # --- training -------------------------------------------------------------------------------
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        unet, optimizer = self.networks["unet"], self.optimizers["unet"]
        x0 = batch.x.to(self.device, non_blocking=True)  # (B, C, H, W)
        if self.context is not None:
            x0 = self.context.prepare_input(x0)
        self._keep_reference(x0)
        labels = self._training_labels(batch, x0.shape[0])  # (B,) or None
        t = torch.randint(0, self.schedule.num_train_timesteps, (x0.shape[0],), device=self.device)  # (B,)
        noise = torch.randn_like(x0)
        x_t = self.schedule.add_noise(x0, noise, t)
        with self.autocast():
            output = self.step_network("unet")(x_t, t, labels)  # (B, C, H, W)
        loss = F.mse_loss(output.float(), self.schedule.target(x0, noise, t))

        scaler = self.grad_scaler("unet")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # clip the true gradients, not the loss-scaled ones
        grad_norm = self._clip_and_measure(unet)
        scaler.step(optimizer)
        scaler.update()
        self.steps += 1
        update_average(self.networks["unet_ema"], unet, self.ema_decay_now())
        return {"loss": loss.detach(), "grad_norm": grad_norm}

    def ema_decay_now(self) -> float:
        """Returns the EMA decay of the current step: (1+n)/(10+n) at first, at most `training.ema_decay`.

        The warm-up keeps the average from clinging to the random initial weights in short runs
        (a decay of 0.995 would need about a thousand steps to forget them).
        """
        return min(self.ema_decay, (1.0 + self.steps) / (10.0 + self.steps))

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

    def _clip_and_measure(self, network: nn.Module) -> torch.Tensor:
        """Returns the total L2 norm (0-d) of `network`'s gradients before clipping; clips to training.grad_clip."""
        parameters = [p for p in network.parameters() if p.grad is not None]
        if self.grad_clip is not None:
            return torch.nn.utils.clip_grad_norm_(parameters, self.grad_clip)
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in parameters]))

    def _keep_reference(self, x0: torch.Tensor) -> None:
        """Keeps the first real examples seen, for the per-epoch distance of samples to the data."""
        kept = 0 if self.reference is None else len(self.reference)
        if kept >= REFERENCE_EXAMPLES:
            return
        # kept on the device: a copy to the host here would wait for the step to finish
        more = x0[: REFERENCE_EXAMPLES - kept].detach().float().clone()
        self.reference = more if self.reference is None else torch.cat([self.reference, more])

    # --- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, steps: Optional[int] = None, eta: Optional[float] = None,
               guidance_scale: Optional[float] = None, sampler: Optional[str] = None,
               batch_size: Optional[int] = None, **options: Any) -> torch.Tensor:
        """Returns `n` samples (n, C, H, W) in the data's normalised range, from the EMA U-Net.

        Defaults come from `model.diffusion`: `sampler` ddim (in `sampling_steps` steps, with `eta`)
        or ddpm (all training timesteps unless `steps` is given); `guidance_scale` applies to
        conditional models, whose `labels` default to equal numbers per class. The initial noise of
        all `n` samples is drawn first, so with DDIM eta=0 a sample does not depend on `batch_size`.
        """
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
        labels = self._sampling_labels(n, labels)
        network = self.networks[self.sampling_networks[0]]
        noise = initial_noise((n, *self.info.shape), generator, self.device)  # (n, C, H, W)

        was_training = network.training
        network.eval()
        parts = []
        try:
            for start in range(0, n, batch_size):
                chunk = slice(start, start + batch_size)
                denoiser = guided_denoiser(network, None if labels is None else labels[chunk], guidance_scale)
                with self.autocast():
                    if sampler == "ddim":
                        parts.append(ddim_sample(denoiser, self.schedule, noise[chunk].shape,
                                                 steps=steps or settings.sampling_steps, eta=eta,
                                                 generator=generator, device=self.device, noise=noise[chunk],
                                                 clip_sample=self.clip_sample))
                    else:
                        parts.append(ddpm_sample(denoiser, self.schedule, noise[chunk].shape, steps=steps,
                                                 generator=generator, device=self.device, noise=noise[chunk],
                                                 clip_sample=self.clip_sample))
        finally:
            network.train(was_training)
        if not parts:
            return noise
        return torch.cat(parts).float().contiguous()

    def _sampling_labels(self, n: int, labels: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if not self.conditional:
            if labels is not None:
                raise UsageError("this diffusion model is unconditional (its data set had fewer than two classes): "
                                 "leave out the class labels")
            return None
        if labels is None:
            return torch.arange(n, device=self.device) % self.num_classes
        labels = torch.as_tensor(labels, dtype=torch.long).to(self.device).reshape(-1)
        if labels.numel() != n:
            raise UsageError(f"asked for {n} samples but gave {labels.numel()} class labels")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise UsageError(f"class labels must lie in 0..{self.num_classes - 1}")
        return labels

    # --- plots and persistence ------------------------------------------------------------------
    def extra_plots(self, plots_dir: Any, history: list[dict[str, float]]) -> None:
        """Draws the diffusion figures: training_loss, samples_epoch_NNN, metrics_comparison, final_samples."""
        from spectrogen.models.diffusion.plots import draw_diffusion_plots

        reference = None if self.reference is None else self.reference.cpu().numpy()
        draw_diffusion_plots(Path(plots_dir), history, reference)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["diffusion"] = {"steps": self.steps}
        return state

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        super().load_state_dict(state, networks_only=networks_only)
        networks = state["networks"]
        if "unet" not in networks and "unet_ema" in networks:
            # a sampling-only export: its averaged weights are the network
            self.networks["unet"].load_state_dict(networks["unet_ema"])
        if not networks_only and "diffusion" in state:
            self.steps = int(state["diffusion"]["steps"])

"""The training method of the `dcgan`, `specgan` and `cgan` families. Each `train_step` call consumes one real
batch for one critic update; every `critic_steps`-th call also updates the generator (and its moving average)."""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from spectrogen.config.loader import resolve
from spectrogen.config.schema import GAN_FAMILIES, ExperimentConfig
from spectrogen.data.info import Batch, DataInfo
from spectrogen.errors import ConfigError, InputError
from spectrogen.losses.gan import DiffAugment, build_loss, gradient_penalty, mode_seeking_loss
from spectrogen.models.conditional import ConditionalDiscriminator, ConditionalGenerator, balanced_labels
from spectrogen.models.gan_stacks import DCGANDiscriminator, DCGANGenerator, SpecGANDiscriminator, SpecGANGenerator
from spectrogen.models.method import (TrainingMethod, class_count, eval_mode, make_average, update_average,
                                      warmed_up_decay)
from spectrogen.models.registry import MODELS

_FAMILIES = {"dcgan": (DCGANGenerator, DCGANDiscriminator), "specgan": (SpecGANGenerator, SpecGANDiscriminator)}


def num_classes_of(config: ExperimentConfig, info: DataInfo) -> int:
    """Returns how many classes a cgan conditions on: model.num_classes, else the data set's."""
    count = class_count(config, info)
    if count < 1:
        raise ConfigError("model.name=cgan needs classes: prepare the data set from class sub-folders, "
                          "or set model.num_classes")
    return count


def _family(config: ExperimentConfig) -> tuple[ExperimentConfig, tuple[type[nn.Module], type[nn.Module]]]:
    """Returns the resolved `config` and its (generator, critic) classes (for cgan, its base family's)."""
    config = resolve(config)
    model = config.model
    family = model.conditional.base if model.name == "cgan" else model.name
    if family not in _FAMILIES:
        raise ConfigError(f"model.name={model.name} is not a GAN family; the GAN networks serve dcgan, specgan, cgan")
    return config, _FAMILIES[family]


def build_generator(config: ExperimentConfig, info: DataInfo) -> nn.Module:
    """Returns a freshly initialised generator for `config` (z (B, latent_dim)[, labels (B,)] -> (B, C, H, W))."""
    config, (generator_class, _) = _family(config)
    model = config.model

    def make(latent_inputs: int) -> nn.Module:
        return generator_class(latent_inputs, model.features_g, (model.height, model.width), model.channels,
                               bool(model.batchnorm), model.upsample)

    if model.name != "cgan":
        return make(model.latent_dim)
    return ConditionalGenerator(make, model.latent_dim, num_classes_of(config, info),
                                model.conditional.generator_input)


def build_discriminator(config: ExperimentConfig, info: DataInfo) -> nn.Module:
    """Returns a freshly initialised critic for `config` (images (B, C, H, W)[, labels (B,)] -> logits (B,))."""
    config, (_, discriminator_class) = _family(config)
    model = config.model
    size = (model.height, model.width)

    def make(in_channels: int) -> nn.Module:
        return discriminator_class(model.features_d, size, in_channels, bool(model.batchnorm))

    if model.name != "cgan":
        return make(model.channels)
    if model.conditional.auxiliary_classifier > 0 and model.conditional.discriminator_input != "projection":
        raise ConfigError("model.conditional.auxiliary_classifier reads the projection critic's features: set "
                          "model.conditional.discriminator_input=projection, or the classifier's weight to 0")
    return ConditionalDiscriminator(make, model.channels, size, num_classes_of(config, info),
                                    model.conditional.discriminator_input, model.conditional.spectral_norm,
                                    model.conditional.auxiliary_classifier > 0)


def sample_latent(n: int, latent_dim: int, distribution: str, *, generator: Optional[torch.Generator] = None,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Returns latent vectors (n, latent_dim): N(0, 1) or uniform [-1, 1] (SpecGAN), drawn on `generator`'s device."""
    where = generator.device if generator is not None else device
    if distribution == "uniform":
        z = torch.rand(n, latent_dim, generator=generator, device=where) * 2.0 - 1.0
    else:
        z = torch.randn(n, latent_dim, generator=generator, device=where)
    return z.to(device) if device is not None else z


class GANMethod(TrainingMethod):
    """Adversarial training of a generator against a critic, configured by family."""

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device, *,
                 sampling_only: bool = False):
        config = resolve(config)
        super().__init__(config, info, device)
        model, training = config.model, config.training
        self.name = model.name
        expected = (model.channels, model.height, model.width)
        if tuple(info.shape) != expected:
            raise ConfigError(f"model.channels/image_size/image_width give examples of shape {expected}, but the "
                              f"data set's are {tuple(info.shape)}: set model.image_size (and image_width) to match")
        self.conditional = model.name == "cgan"
        self.num_classes = num_classes_of(config, info) if self.conditional else 0
        generator = build_generator(config, info).to(device)
        self.networks = {"generator": generator}
        self.sampling_networks = ("generator",)
        if sampling_only:  # `build_sampler`: one generator
            return
        self.networks["discriminator"] = build_discriminator(config, info).to(device)
        self.ema_decay = training.ema_decay
        if self.ema_decay is not None:
            self.networks["generator_ema"] = make_average(generator)
            self.sampling_networks = ("generator_ema",)
        self.add_optimizer("generator", torch.optim.Adam, training.learning_rate)
        self.add_optimizer("discriminator", torch.optim.Adam, training.learning_rate_d)
        self.loss = build_loss(training)
        self.augment = DiffAugment(training.diffaugment)
        self.mode_seeking = training.mode_seeking
        self.auxiliary = model.conditional.auxiliary_classifier if self.conditional else 0.0
        self._class_logits: Optional[torch.Tensor] = None  # of the latest critic call, with a classifier
        self.critic_steps = training.critic_steps
        self.grad_clip = training.grad_clip
        self.calls = 0
        # the latest generator update's figures, reported with every critic update (0 before the first);
        # mode_seeking and class_loss_g unweighted, so loss_g stays the adversarial loss
        reported = ["loss_g", "grad_norm_g"]
        if self.mode_seeking > 0:
            reported.append("mode_seeking")
        if self.auxiliary > 0:
            reported.append("class_loss_g")
        self.latest = {key: torch.zeros((), device=device) for key in reported}

    def parameter_counts(self) -> dict[str, int]:
        """Returns the trainable parameters of the generator and the critic (the EMA copy is not trained)."""
        return {k: v for k, v in super().parameter_counts().items() if k != "generator_ema"}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns the statistics of this call's critic update and those of the latest generator update."""
        real = batch.x.to(self.device, non_blocking=True)  # (B, C, H, W)
        if self.conditional and batch.y is None:
            raise InputError("cgan trains on labelled data: the batch has no class labels "
                             "(prepare the data set from one sub-folder per class)")
        labels = batch.y.to(self.device, non_blocking=True) if self.conditional else None  # (B,)
        self.calls += 1
        update_generator = self.calls % self.critic_steps == 0
        z = sample_latent(real.shape[0], self.config.model.latent_dim, self.config.model.latent_distribution,
                          device=self.device)
        # the fakes are made once per call; their graph is kept only when the generator learns from them
        with torch.set_grad_enabled(update_generator), self.autocast():
            fake = self._generator_output(self.step_network("generator"), z, labels)  # (B, C, H, W)
        statistics = self._critic_step(real, fake.detach(), labels)
        if update_generator:
            self._generator_step(fake, labels, z)
        return {**statistics, **self.latest}

    def _critic_step(self, real: torch.Tensor, fake: torch.Tensor,
                     labels: Optional[torch.Tensor]) -> dict[str, torch.Tensor]:
        critic = self.networks["discriminator"]
        replica = self.step_network("discriminator")  # averages the critic's gradients over processes
        real_seen, fake_seen = self.augment(real), self.augment(fake)
        statistics = {}
        with self.autocast():
            real_logits = self._critic_output(replica, real_seen, labels)  # (B,)
            real_classes = self._class_logits
            fake_logits = self._critic_output(replica, fake_seen, labels)  # (B,)
        loss = self.loss.discriminator(real_logits, fake_logits)
        if real_classes is not None:  # the classifier learns the real examples' classes only
            class_loss = F.cross_entropy(real_classes.float(), labels)
            loss = loss + self.auxiliary * class_loss
            statistics["class_loss_d"] = class_loss.detach()
        if self.loss.gp_lambda > 0:
            # fp32 through the critic's plain forward: a compiled module has no double backward. Under DDP the
            # penalty's gradient reaches the parameters in the one backward below, averaged with the rest
            penalty = gradient_penalty(lambda x: self._critic_output(critic.forward, x, labels), real_seen, fake_seen)
            loss = loss + self.loss.gp_lambda * penalty
            statistics["gp"] = penalty.detach()
        grad_norm = self.optimizer_step("discriminator", loss, self.grad_clip)
        statistics.update(loss_d=loss.detach(), d_real=self.loss.score(real_logits),
                          d_fake=self.loss.score(fake_logits), grad_norm_d=grad_norm)
        return statistics

    def _generator_step(self, fake: torch.Tensor, labels: Optional[torch.Tensor], z: torch.Tensor) -> None:
        generator, critic = self.networks["generator"], self.networks["discriminator"]
        critic.requires_grad_(False)  # the critic's weights get no gradient from the generator's loss
        try:
            with self.autocast():
                logits = self._critic_output(critic, self.augment(fake), labels)  # (B,)
            loss = self.loss.generator(logits)
            total = loss
            if self._class_logits is not None:  # samples the critic's classifier takes for the asked class
                class_loss = F.cross_entropy(self._class_logits.float(), labels)
                total = total + self.auxiliary * class_loss
                self.latest["class_loss_g"] = class_loss.detach()
            if self.mode_seeking > 0:
                term = mode_seeking_loss(fake.float(), z, labels)
                total = total + self.mode_seeking * term
                self.latest["mode_seeking"] = term.detach()
            self.latest["grad_norm_g"] = self.optimizer_step("generator", total, self.grad_clip)
        finally:
            critic.requires_grad_(True)
        self.latest["loss_g"] = loss.detach()
        if self.ema_decay is not None:
            updates = self.calls // self.critic_steps - 1  # generator updates before this one
            update_average(self.networks["generator_ema"], generator, warmed_up_decay(self.ema_decay, updates))

    def _generator_output(self, network, z: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
        return network(z, labels) if self.conditional else network(z)

    def _critic_output(self, network, x: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
        """Returns the critic's logits (B,); with the auxiliary classifier, keeps its class logits (B, K)."""
        if not self.conditional:
            return network(x)
        output = network(x, labels)
        if output.dim() == 2:  # (B, 1 + K): the logit, then the classifier's
            self._class_logits = output[:, 1:]
            return output[:, 0]
        self._class_logits = None
        return output

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, batch_size: int = 64, **options: Any) -> torch.Tensor:
        """Returns `n` generated examples (n, C, H, W) in [-1, 1], from the EMA generator when kept."""
        z = sample_latent(n, self.config.model.latent_dim, self.config.model.latent_distribution,
                          generator=generator, device=self.device)
        if not self.conditional:
            labels = None
        elif labels is None:
            labels = balanced_labels(n, self.num_classes)
        return torch.cat([self.from_latents(z[i:i + batch_size], None if labels is None else labels[i:i + batch_size])
                          for i in range(0, n, batch_size)]).contiguous()

    @torch.no_grad()
    def from_latents(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Returns the sampling generator's images (b, C, H, W) float of latents `z` (b, D) and classes (b,), in eval
        mode: an example depends only on its own latent vector and class, never on the rest of the batch."""
        with eval_mode(self.networks[self.sampling_networks[0]]) as network:
            labels = None if labels is None else torch.as_tensor(labels).to(self.device, torch.long)
            return self._generator_output(network, z.to(self.device), labels).float()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["gan"] = {"calls": self.calls, **{key: value.clone() for key, value in self.latest.items()}}
        return state

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        super().load_state_dict(state, networks_only=networks_only)
        if networks_only or "gan" not in state:
            return
        self.calls = int(state["gan"]["calls"])
        # older checkpoints lack the figures of terms added since
        self.latest.update({key: state["gan"][key].to(self.device) for key in self.latest if key in state["gan"]})


for _name in GAN_FAMILIES:
    MODELS.register(_name)(GANMethod)

"""GAN losses over critic logits (B,) in the `LOSSES` registry (BCE's sigmoid lives here), the WGAN-GP penalty,
MSGAN's mode-seeking term, and DiffAugment (Zhao et al. 2020) of the critic's inputs, so that it cannot memorise a small
data set: only a shift along time and cutout, which keep a spectrogram a spectrogram (nothing moves along frequency or
flips)."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from spectrogen.config.schema import TrainingConfig
from spectrogen.errors import ConfigError
from spectrogen.registry import Registry

MODE_SEEKING_EPSILON = 1e-5  # keeps the term finite when a pair is identical (a fully collapsed generator)
TRANSLATION_RATIO = 0.125  # largest shift, as a fraction of the frames (DiffAugment's 1/8)
CUTOUT_RATIO = 0.5  # side of the cut-out rectangle, as a fraction of each side (DiffAugment's 1/2)


class GANLoss:
    """A pair of objectives over critic logits; `gp_lambda` > 0 asks the method for a gradient penalty."""

    gp_lambda: float = 0.0
    options: tuple[str, ...] = ()  # the `training` options that the constructor takes, by name

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Returns the critic's loss (0-d) given logits of real (B,) and generated (B,) examples."""
        raise NotImplementedError

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        """Returns the generator's loss (0-d) given the critic's logits (B,) of generated examples."""
        raise NotImplementedError

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """Returns the mean critic output (0-d) as the statistics report D(x): a probability for BCE."""
        return logits.detach().float().mean()


LOSSES: Registry[type[GANLoss]] = Registry("loss")


@LOSSES.register("bce")
class BCELoss(GANLoss):
    """Goodfellow's GAN with the non-saturating generator loss; D's loss is the sum of its real and fake terms."""

    options = ("label_smoothing",)

    def __init__(self, label_smoothing: float = 0.0):
        self.real_target = 1.0 - label_smoothing  # one-sided: only real labels are softened

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real, fake = real.float(), fake.float()
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, self.real_target))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.float()
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.detach().float()).mean()


@LOSSES.register("lsgan")
class LeastSquaresLoss(GANLoss):
    """Mao et al. 2017 with targets real 1, fake 0: D minimises ½(D(x)-1)² + ½D(G(z))², G ½(D(G(z))-1)²."""

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((real.float() - 1.0) ** 2).mean() + 0.5 * (fake.float() ** 2).mean()

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((fake.float() - 1.0) ** 2).mean()


@LOSSES.register("wgan-gp")
class WassersteinGPLoss(GANLoss):
    """Gulrajani et al. 2017: D minimises E[D(G(z))] - E[D(x)] + λ·GP, G minimises -E[D(G(z))]."""

    options = ("gp_lambda",)

    def __init__(self, gp_lambda: float = 10.0):
        self.gp_lambda = gp_lambda

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.float().mean() - real.float().mean()

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.float().mean()


@LOSSES.register("hinge")
class HingeLoss(GANLoss):
    """Lim & Ye 2017 / Miyato et al. 2018: D minimises E[relu(1-D(x))] + E[relu(1+D(G(z)))], G -E[D(G(z))]."""

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real.float()).mean() + F.relu(1.0 + fake.float()).mean()

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.float().mean()


def build_loss(training: TrainingConfig) -> GANLoss:
    """Returns the loss that `training.loss` names, configured from `training`."""
    if training.loss is None:
        raise ConfigError("training.loss is not set: choose one of " + ", ".join(LOSSES.names()))
    if training.label_smoothing > 0 and training.loss != "bce":
        raise ConfigError(f"training.label_smoothing={training.label_smoothing} only applies to training.loss=bce "
                          f"(it is {training.loss}); set it to 0")
    loss = LOSSES.get(training.loss)
    return loss(**{name: getattr(training, name) for name in loss.options})


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     *, alpha: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Returns mean over examples of (‖∇D(x̂)‖₂ - 1)², x̂ between real and fake at `alpha` (B,) (uniform when
    None), each norm over all non-batch axes together (not per row, as the original code had it)."""
    batch = real.shape[0]
    if alpha is None:
        alpha = torch.rand(batch, device=real.device, dtype=real.dtype)
    alpha = alpha.view(batch, *([1] * (real.dim() - 1)))
    real, fake = real.detach(), fake.detach()
    mixed = (real + alpha * (fake - real)).requires_grad_(True)  # (B, C, H, W)
    scores = critic(mixed)  # (B,)
    (grads,) = torch.autograd.grad(scores.float().sum(), mixed, create_graph=True)
    # the tiny constant keeps the square root differentiable where a gradient is exactly zero
    norms = torch.sqrt(grads.float().pow(2).flatten(1).sum(dim=1) + 1e-12)  # (B,)
    return ((norms - 1.0) ** 2).mean()


def same_class_pairs(n: int, labels: Optional[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns index tensors (P,), (P,) of disjoint pairs of the batch's n examples, of one class each when labelled."""
    order = torch.arange(n, device=device) if labels is None else torch.sort(labels, stable=True).indices
    first, second = order[0:n - 1:2], order[1:n:2]  # neighbours in class order: (0, 1), (2, 3), ...
    if labels is not None:
        keep = labels[first] == labels[second]  # a class with an odd count leaves one pair mixed: dropped
        first, second = first[keep], second[keep]
    return first, second


def mode_seeking_loss(fake: torch.Tensor, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Returns MSGAN's mode-seeking term (Mao et al. 2019), 1 / mean(|G(z1) - G(z2)| / |z1 - z2|) over pairs of the
    batch (0-d), for generated examples `fake` (B, ...) made from noise `z` (B, D) [and `labels` (B,)]. Pairs are of
    one class each for a conditional model, whose critic otherwise rewards each class's most typical sample; zero,
    with a zero gradient, when the batch holds no such pair."""
    first, second = same_class_pairs(fake.shape[0], labels, fake.device)
    if first.numel() == 0:
        return fake.sum() * 0.0
    samples = (fake[first] - fake[second]).abs().flatten(1).mean(dim=1)  # (P,)
    noise = (z[first] - z[second]).abs().flatten(1).mean(dim=1)  # (P,)
    return 1.0 / ((samples / noise).mean() + MODE_SEEKING_EPSILON)


def translate_time(x: torch.Tensor, *, ratio: float = TRANSLATION_RATIO,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Returns (B, C, F, T) shifted along time by a random whole number of frames per example, zero-filled."""
    batch, _, _, frames = x.shape
    limit = int(frames * ratio + 0.5)
    shift = torch.randint(-limit, limit + 1, (batch, 1, 1, 1), device=x.device, generator=generator)
    source = torch.arange(frames, device=x.device).view(1, 1, 1, frames) - shift  # (B, 1, 1, T)
    inside = (source >= 0) & (source < frames)
    index = source.clamp(0, frames - 1).expand_as(x)
    return torch.gather(x, -1, index) * inside.to(x.dtype)


def cutout(x: torch.Tensor, *, ratio: float = CUTOUT_RATIO,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Returns (B, C, F, T) with one random rectangle per example (ratio of each side) set to zero."""
    batch, _, rows, frames = x.shape
    height, width = int(rows * ratio + 0.5), int(frames * ratio + 0.5)
    # centres anywhere in the image, so that the rectangle may hang over an edge
    top = torch.randint(0, rows, (batch, 1, 1, 1), device=x.device, generator=generator) - height // 2
    left = torch.randint(0, frames, (batch, 1, 1, 1), device=x.device, generator=generator) - width // 2
    row = torch.arange(rows, device=x.device).view(1, 1, rows, 1)
    frame = torch.arange(frames, device=x.device).view(1, 1, 1, frames)
    inside = (row >= top) & (row < top + height) & (frame >= left) & (frame < left + width)  # (B, 1, F, T)
    return x * (~inside).to(x.dtype)


OPERATIONS = {"translation": translate_time, "cutout": cutout}


class DiffAugment:
    """Callable applying the named operations, in order, to a batch (B, C, F, T); identity when none are named."""

    def __init__(self, policies: Sequence[str] = ()):
        unknown = [name for name in policies if name not in OPERATIONS]
        if unknown:
            raise ConfigError(f"training.diffaugment: unknown operation(s) {unknown}; "
                              f"choose from {sorted(OPERATIONS)}")
        self.policies = tuple(policies)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        for name in self.policies:
            x = OPERATIONS[name](x, generator=generator)
        return x

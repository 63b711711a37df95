"""GAN losses over critic logits (B,) in the `LOSSES` registry (BCE's sigmoid lives here), and the WGAN-GP penalty."""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from spectrogen.config.schema import TrainingConfig
from spectrogen.errors import ConfigError
from spectrogen.registry import Registry


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

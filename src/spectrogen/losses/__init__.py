"""GAN losses as small callables (`LOSSES` registry) and differentiable augmentation for the critic."""

from spectrogen.losses.diffaugment import DiffAugment
from spectrogen.losses.gan import LOSSES, GANLoss, build_loss, gradient_penalty

__all__ = ["LOSSES", "DiffAugment", "GANLoss", "build_loss", "gradient_penalty"]

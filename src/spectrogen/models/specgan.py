"""SpecGAN networks (Donahue et al. 2019): 5x5 kernels, `dim` multiplier, no batch norm by default.

A port without ``output_padding=1`` goes wrong: with a 5x5 kernel, stride 2 and padding 2 a transposed
convolution maps n -> 2n - 1 (4 -> 7 -> 13 -> ...). With it every layer doubles: 4 -> 8 -> ... -> 128.
"""

from __future__ import annotations

import torch
from torch import nn

from spectrogen.models.gan_stacks import downsampling_stack, stack_layout, upsampling_stack
from spectrogen.models.init import init_gan_weights

KERNEL = 5
PADDING = 2
OUTPUT_PADDING = 1


class SpecGANGenerator(nn.Module):
    """Latent (B, latent_dim) -> Dense -> 4x4x16·dim -> 5x5 stride-2 transposed convs (ReLU) -> Tanh, (B, C, H, W)."""

    def __init__(self, latent_dim: int = 100, dim: int = 64, size: tuple[int, int] = (128, 128),
                 channels: int = 1, batchnorm: bool = False, upsample: str = "transposed"):
        super().__init__()
        layout = stack_layout(size[0], size[1], dim)
        self.latent_dim = latent_dim
        self.start_shape = (layout.widths[0],) + layout.start
        self.project = nn.Linear(latent_dim, layout.widths[0] * layout.start[0] * layout.start[1])
        self.body = upsampling_stack(layout, channels, kernel=KERNEL, padding=PADDING,
                                     output_padding=OUTPUT_PADDING, batchnorm=batchnorm, upsample=upsample)
        init_gan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, *self.start_shape)  # (B, 16·dim, 4, 4)
        # channels-last: a resize then a convolution runs about twice as fast so on a CPU (benchmarks/README.md)
        return self.body(h.contiguous(memory_format=torch.channels_last))  # (B, C, H, W)


class SpecGANDiscriminator(nn.Module):
    """Image (B, C, H, W) -> one logit per example (B,): 5x5 stride-2 convs, LeakyReLU(0.2), Dense.

    No batch norm on the first layer; on the others only when `batchnorm` (off in SpecGAN, and
    WGAN-GP's per-example penalty assumes it is off).
    """

    def __init__(self, dim: int = 64, size: tuple[int, int] = (128, 128), channels: int = 1,
                 batchnorm: bool = False):
        super().__init__()
        layout = stack_layout(size[0], size[1], dim)
        self.feature_channels = layout.widths[0]
        self.body = downsampling_stack(layout, channels, kernel=KERNEL, padding=PADDING, batchnorm=batchnorm)
        self.head = nn.Linear(layout.widths[0] * layout.start[0] * layout.start[1], 1)
        init_gan_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the last hidden map (B, F, 4, 4) of images (B, C, H, W); F = 16·dim at 128x128."""
        return self.body(x)

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Returns the logits (B,) of hidden maps (B, F, 4, 4)."""
        return self.head(h.flatten(1)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(x))  # (B,)

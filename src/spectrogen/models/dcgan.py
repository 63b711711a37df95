"""DCGAN networks (Radford et al. 2016): 4x4 kernels, batch norm, single-channel spectrograms."""

from __future__ import annotations

import torch
from torch import nn

from spectrogen.models.gan_stacks import downsampling_stack, stack_layout, upsampling_stack
from spectrogen.models.init import init_gan_weights

KERNEL = 4
PADDING = 1  # with stride 2 and a 4x4 kernel: every layer exactly doubles (halves) the size


class DCGANGenerator(nn.Module):
    """Latent (B, latent_dim) -> Linear -> 4x4 map -> ConvTranspose2d 4x4 stride-2 stack (BN, ReLU) -> Tanh."""

    def __init__(self, latent_dim: int = 100, features: int = 64, size: tuple[int, int] = (128, 128),
                 channels: int = 1, batchnorm: bool = True, upsample: str = "transposed"):
        super().__init__()
        layout = stack_layout(size[0], size[1], features)
        self.latent_dim = latent_dim
        self.start_shape = (layout.widths[0],) + layout.start
        self.project = nn.Linear(latent_dim, layout.widths[0] * layout.start[0] * layout.start[1],
                                 bias=not batchnorm)
        self.body = upsampling_stack(layout, channels, kernel=KERNEL, padding=PADDING, output_padding=0,
                                     batchnorm=batchnorm, upsample=upsample)
        init_gan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, *self.start_shape)  # (B, 16f, 4, 4)
        # channels-last: a resize then a convolution runs about twice as fast so on a CPU (benchmarks/README.md)
        return self.body(h.contiguous(memory_format=torch.channels_last))  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """Image (B, C, H, W) -> one logit per example (B,): Conv2d 4x4 stride-2 stack, LeakyReLU(0.2), final 4x4 conv.

    Batch norm follows every convolution after the first (none on the layer that reads the data).
    The output is a logit; the BCE loss applies the sigmoid.
    """

    def __init__(self, features: int = 64, size: tuple[int, int] = (128, 128), channels: int = 1,
                 batchnorm: bool = True):
        super().__init__()
        layout = stack_layout(size[0], size[1], features)
        self.feature_channels = layout.widths[0]
        self.body = downsampling_stack(layout, channels, kernel=KERNEL, padding=PADDING, batchnorm=batchnorm)
        # 128 -> ... -> 4x4 -> 1: a valid convolution over the whole small map
        self.head = nn.Conv2d(layout.widths[0], 1, layout.start)
        init_gan_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the last hidden map (B, F, 4, 4) of images (B, C, H, W); F = 16·features at 128x128."""
        return self.body(x)

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Returns the logits (B,) of hidden maps (B, F, 4, 4)."""
        return self.head(h).flatten(1).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(x))  # (B,)

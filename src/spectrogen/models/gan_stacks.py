"""The DCGAN and SpecGAN generators and critics: one stack each, starting (or ending) at a map whose short side
is 4, log2(S / 4) stride-2 layers for a side S; widths double towards the small map, up to 16 x `base_width`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spectrogen.errors import ConfigError

MAX_WIDTH_MULTIPLIER = 16
START_SIDE = 4
RESIZE_KERNEL = 3
INIT_STD = 0.02


def init_gan_weights(network: nn.Module) -> nn.Module:
    """Returns `network` re-initialised in place as DCGAN's (Radford et al. 2016)."""
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            # spectral normalisation moves the weight to `parametrizations.weight.original`
            parametrized = "weight" in getattr(module, "parametrizations", ())
            weight = module.parametrizations.weight.original if parametrized else module.weight
            nn.init.normal_(weight, 0.0, INIT_STD)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)) and module.affine:
            nn.init.normal_(module.weight, 1.0, INIT_STD)
            nn.init.zeros_(module.bias)
    return network


@dataclass(frozen=True)
class StackLayout:
    """Where a GAN stack starts and how wide each of its layers is."""

    start: tuple[int, int]  # (h, w) of the small map next to the dense layer
    widths: tuple[int, ...]  # channels per resolution, from the small map to the last hidden layer


def stack_layout(height: int, width: int, base_width: int) -> StackLayout:
    """Returns the layout of a stack making (or reading) `height` x `width` images with `base_width` channels last."""
    for key, side in (("model.image_size", height), ("model.image_width", width)):
        if side < 2 * START_SIDE or side & (side - 1):
            raise ConfigError(f"{key}={side}: a GAN stack needs a power of two of at least {2 * START_SIDE}")
    if base_width < 1:
        raise ConfigError(f"model.features_g / model.features_d = {base_width}: must be at least 1")
    short = min(height, width)
    layers = (short // START_SIDE).bit_length() - 1
    start = (START_SIDE * height // short, START_SIDE * width // short)
    widths = tuple(base_width * min(2 ** (layers - 1 - i), MAX_WIDTH_MULTIPLIER) for i in range(layers))
    return StackLayout(start, widths)


class StackGenerator(nn.Module):
    """Latent (B, latent_dim) -> Linear -> small map -> doubling layers -> Tanh, (B, C, H, W); a doubling layer is a
    stride-2 transposed convolution (the papers') or a resize then a 3x3 convolution (no lattice of dots)."""

    def __init__(self, latent_dim: int, width: int, size: tuple[int, int], channels: int, batchnorm: bool,
                 upsample: str, *, kernel: int, padding: int, output_padding: int, project_bias: bool):
        super().__init__()
        layout = stack_layout(size[0], size[1], width)
        self.latent_dim = latent_dim
        self.start_shape = (layout.widths[0],) + layout.start
        self.project = nn.Linear(latent_dim, layout.widths[0] * layout.start[0] * layout.start[1], bias=project_bias)
        layers: list[nn.Module] = ([nn.BatchNorm2d(layout.widths[0])] if batchnorm else []) + [nn.ReLU()]
        outs = layout.widths[1:] + (channels,)
        for i, (c_in, c_out) in enumerate(zip(layout.widths, outs)):
            last = i == len(outs) - 1
            bias = last or not batchnorm  # a bias before batch norm is cancelled by the norm's mean subtraction
            if upsample == "transposed":
                layers.append(nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=padding,
                                                 output_padding=output_padding, bias=bias))
            else:
                # 3x3 sees as many input pixels as a 5x5 stride-2 kernel (benchmarks/README.md, "Upsampling")
                layers += [nn.Upsample(scale_factor=2, mode=upsample),
                           nn.Conv2d(c_in, c_out, RESIZE_KERNEL, padding=RESIZE_KERNEL // 2, bias=bias)]
            layers += [nn.Tanh()] if last else ([nn.BatchNorm2d(c_out)] if batchnorm else []) + [nn.ReLU()]
        self.body = nn.Sequential(*layers)
        init_gan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, *self.start_shape)  # (B, 16w, h, w)
        # channels-last: resize-convolutions run faster so on a CPU (benchmarks/README.md)
        return self.body(h.contiguous(memory_format=torch.channels_last))  # (B, C, H, W)


class StackDiscriminator(nn.Module):
    """Image (B, C, H, W) -> halving convolutions, LeakyReLU(0.2) -> last hidden map (B, F, h, w) -> logits (B,);
    batch norm, when asked, follows every convolution but the first; the head reads the whole small map."""

    def __init__(self, width: int, size: tuple[int, int], channels: int, batchnorm: bool, *, kernel: int,
                 padding: int, dense_head: bool):
        super().__init__()
        layout = stack_layout(size[0], size[1], width)
        self.feature_channels = layout.widths[0]
        layers: list[nn.Module] = []
        widths = layout.widths[::-1]
        for i, (c_in, c_out) in enumerate(zip((channels,) + widths[:-1], widths)):
            normed = batchnorm and i > 0
            layers.append(nn.Conv2d(c_in, c_out, kernel, stride=2, padding=padding, bias=not normed))
            layers += ([nn.BatchNorm2d(c_out)] if normed else []) + [nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.dense_head = dense_head
        self.head = (nn.Linear(layout.widths[0] * layout.start[0] * layout.start[1], 1) if dense_head
                     else nn.Conv2d(layout.widths[0], 1, layout.start))
        init_gan_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the last hidden map (B, F, h, w) of images (B, C, H, W); F = 16·width at 128x128."""
        return self.body(x)

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Returns the logits (B,) of hidden maps (B, F, h, w)."""
        return self.head(h.flatten(1) if self.dense_head else h).flatten(1).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(x))  # (B,)


# DCGAN (Radford et al. 2016): 4x4 kernels, padding 1: every stride-2 layer exactly doubles (halves) the size.
# SpecGAN (Donahue et al. 2019): 5x5 kernels, padding 2, output_padding 1 (else n -> 2n - 1).


class DCGANGenerator(StackGenerator):
    """4x4 stride-2 transposed convolutions with batch norm and ReLU; no bias before batch norm."""

    def __init__(self, latent_dim: int = 100, features: int = 64, size: tuple[int, int] = (128, 128),
                 channels: int = 1, batchnorm: bool = True, upsample: str = "transposed"):
        super().__init__(latent_dim, features, size, channels, batchnorm, upsample, kernel=4, padding=1,
                         output_padding=0, project_bias=not batchnorm)


class DCGANDiscriminator(StackDiscriminator):
    """4x4 stride-2 convolutions, LeakyReLU(0.2), batch norm after every one but the first; a final 4x4 conv."""

    def __init__(self, features: int = 64, size: tuple[int, int] = (128, 128), channels: int = 1,
                 batchnorm: bool = True):
        super().__init__(features, size, channels, batchnorm, kernel=4, padding=1, dense_head=False)


class SpecGANGenerator(StackGenerator):
    """Dense -> 4x4x16·dim -> 5x5 stride-2 transposed convolutions (ReLU) -> Tanh."""

    def __init__(self, latent_dim: int = 100, dim: int = 64, size: tuple[int, int] = (128, 128),
                 channels: int = 1, batchnorm: bool = False, upsample: str = "transposed"):
        super().__init__(latent_dim, dim, size, channels, batchnorm, upsample, kernel=5, padding=2,
                         output_padding=1, project_bias=True)


class SpecGANDiscriminator(StackDiscriminator):
    """5x5 stride-2 convolutions, LeakyReLU(0.2), Dense; batch norm only when asked (WGAN-GP assumes none)."""

    def __init__(self, dim: int = 64, size: tuple[int, int] = (128, 128), channels: int = 1,
                 batchnorm: bool = False):
        super().__init__(dim, size, channels, batchnorm, kernel=5, padding=2, dense_head=True)

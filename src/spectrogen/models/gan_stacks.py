"""The stride-2 convolution stacks that DCGAN and SpecGAN share, and how their depth follows the image size.

Both families start (generator) or end (discriminator) at a map whose short side is 4: a square
image of size S has ``log2(S / 4)`` stride-2 layers (32 -> 3, 64 -> 4, 128 -> 5, 256 -> 6); a
non-square one, e.g. 128 mels x 512 frames, starts from a 4 x 16 map with as many layers as its
short side asks for. The last hidden layer has `base_width` channels and each layer closer to the
small map doubles it, up to 16 x `base_width` (so 256 x 256 adds a layer, not a 2048-channel one).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from spectrogen.errors import ConfigError

MAX_WIDTH_MULTIPLIER = 16
START_SIDE = 4
RESIZE_KERNEL = 3


@dataclass(frozen=True)
class StackLayout:
    """Where a GAN stack starts and how wide each of its layers is."""

    size: tuple[int, int]  # (H, W) of the images
    start: tuple[int, int]  # (h, w) of the small map next to the dense/linear layer
    widths: tuple[int, ...]  # channels per resolution, from the small map to the last hidden layer

    @property
    def layers(self) -> int:
        return len(self.widths)


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
    return StackLayout(size=(height, width), start=start, widths=widths)


def upsampling_stack(layout: StackLayout, out_channels: int, *, kernel: int, padding: int,
                     output_padding: int, batchnorm: bool, upsample: str = "transposed") -> nn.Sequential:
    """Returns (B, widths[0], h, w) -> (B, out_channels, H, W) in [-1, 1]: [BN] ReLU, doubling layers, Tanh.

    Each doubling layer is a stride-2 transposed convolution (`upsample="transposed"`, the papers') or a
    resize (nearest or bilinear) followed by a 3x3 convolution (Odena et al. 2016): a
    transposed convolution whose kernel is not a multiple of its stride covers output pixels unevenly
    and leaves a lattice of dots in every sample; a resize covers them all alike.
    """
    layers: list[nn.Module] = []
    if batchnorm:
        layers.append(nn.BatchNorm2d(layout.widths[0]))
    layers.append(nn.ReLU())
    outs = layout.widths[1:] + (out_channels,)
    for i, (c_in, c_out) in enumerate(zip(layout.widths, outs)):
        last = i == len(outs) - 1
        # a bias before batch norm is cancelled by the norm's mean subtraction
        bias = last or not batchnorm
        if upsample == "transposed":
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=padding,
                                             output_padding=output_padding, bias=bias))
        else:
            # 3x3 after the resize: it sees as many input pixels as a 5x5 stride-2 kernel does, at a third of
            # the cost of a 5x5 at the doubled size (benchmarks/README.md, "Upsampling")
            layers += [nn.Upsample(scale_factor=2, mode=upsample),
                       nn.Conv2d(c_in, c_out, RESIZE_KERNEL, padding=RESIZE_KERNEL // 2, bias=bias)]
        if last:
            layers.append(nn.Tanh())
        else:
            if batchnorm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def downsampling_stack(layout: StackLayout, in_channels: int, *, kernel: int, padding: int,
                       batchnorm: bool) -> nn.Sequential:
    """Returns (B, in_channels, H, W) -> (B, widths[0], h, w): halving convs with LeakyReLU(0.2), BN on all but the first."""
    layers: list[nn.Module] = []
    widths = layout.widths[::-1]
    ins = (in_channels,) + widths[:-1]
    for i, (c_in, c_out) in enumerate(zip(ins, widths)):
        # the first layer sees the data itself: no batch norm there (DCGAN, SpecGAN)
        normed = batchnorm and i > 0
        layers.append(nn.Conv2d(c_in, c_out, kernel, stride=2, padding=padding, bias=not normed))
        if normed:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)

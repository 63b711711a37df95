"""The denoising U-Net (Ho et al. 2020): residual blocks with the timestep's sinusoidal embedding injected, skip
connections between the down and up paths, self-attention at the lowest resolution."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F


def sinusoidal_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Returns the (B, dim) embedding [sin(t f_k)..., cos(t f_k)...(, 0 for an odd dim)] of (B,) timesteps."""
    if timesteps.ndim != 1:
        raise ValueError(f"timesteps must be a 1-D tensor (B,), got shape {tuple(timesteps.shape)}")
    half = dim // 2
    exponents = torch.arange(half, device=timesteps.device, dtype=torch.float32) / half
    frequencies = torch.exp(-math.log(max_period) * exponents)  # (half,)
    angles = timesteps.float()[:, None] * frequencies[None, :]  # (B, half)
    embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (B, 2*half)
    return F.pad(embedding, (0, 1)) if dim % 2 else embedding


class TimeEmbedding(nn.Module):
    """A sinusoidal encoding followed by a two-layer MLP: (B,) timesteps -> (B, out_dim)."""

    def __init__(self, sinusoid_dim: int, out_dim: int):
        super().__init__()
        self.sinusoid_dim = sinusoid_dim
        self.mlp = nn.Sequential(nn.Linear(sinusoid_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(timesteps, self.sinusoid_dim))  # (B, out_dim)


def group_count(channels: int) -> int:
    """Returns the number of GroupNorm groups for `channels`: at most 32, each of at least 4 channels."""
    for groups in (32, 16, 8, 4, 2):
        if channels % groups == 0 and channels // groups >= 4:
            return groups
    return 1


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the (time + class) embedding added between: (B, Cin, H, W) -> (B, Cout, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, embedding_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(in_channels), in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embedding = nn.Linear(embedding_dim, out_channels)
        self.norm2 = nn.GroupNorm(group_count(out_channels), out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        # the block starts as the identity (plus the shortcut), which keeps a deep U-Net trainable at once
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embedding(F.silu(embedding))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.shortcut(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over all positions, residual: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int, head_channels: int = 32):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        while channels % self.heads:  # e.g. 100 channels: 2 heads of 50, not 3 of 33.3
            self.heads -= 1
        self.norm = nn.GroupNorm(group_count(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # each (B, heads, HW, C/heads)
        attended = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, C/heads)
        attended = attended.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.out(attended)


class Downsample(nn.Module):
    """Strided 3x3 convolution: (B, C, H, W) -> (B, C, H/2, W/2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour doubling then a 3x3 convolution (no checkerboard): (B, C, H, W) -> (B, C, 2H, 2W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """Predicts the noise (or v) in x_t: forward(x (B, C, H, W), t (B,), labels (B,) or None) -> (B, C, H, W). Every
    level but the last halves H and W; with `num_classes` > 0, class `num_classes` is the null class ("no label")."""

    def __init__(self, in_channels: int = 1, base_channels: int = 32, channel_multipliers: Sequence[int] = (1, 2, 2),
                 res_blocks: int = 1, attention: bool = True, dropout: float = 0.0, num_classes: int = 0):
        super().__init__()
        if not channel_multipliers:
            raise ValueError("channel_multipliers needs at least one level")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.levels = len(channel_multipliers)
        embedding_dim = 4 * base_channels
        self.time_embedding = TimeEmbedding(base_channels, embedding_dim)
        self.class_embedding = nn.Embedding(num_classes + 1, embedding_dim) if num_classes > 0 else None
        self.input_conv = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        channels = base_channels
        skip_channels = [channels]
        self.down = nn.ModuleList()
        for level, multiplier in enumerate(channel_multipliers):
            for _ in range(res_blocks):
                self.down.append(ResidualBlock(channels, base_channels * multiplier, embedding_dim, dropout))
                channels = base_channels * multiplier
                skip_channels.append(channels)
            if level < self.levels - 1:
                self.down.append(Downsample(channels))
                skip_channels.append(channels)
        self.middle = nn.ModuleList([ResidualBlock(channels, channels, embedding_dim, dropout),
                                     SelfAttention(channels) if attention else nn.Identity(),
                                     ResidualBlock(channels, channels, embedding_dim, dropout)])
        self.up = nn.ModuleList()
        for level, multiplier in reversed(list(enumerate(channel_multipliers))):
            # one more block than on the way down: it takes the skip of the level's Downsample (or input conv)
            for _ in range(res_blocks + 1):
                self.up.append(ResidualBlock(channels + skip_channels.pop(), base_channels * multiplier,
                                             embedding_dim, dropout))
                channels = base_channels * multiplier
            if level > 0:
                self.up.append(Upsample(channels))
        self.output = nn.Sequential(nn.GroupNorm(group_count(channels), channels), nn.SiLU(),
                                    nn.Conv2d(channels, in_channels, 3, padding=1))
        # a zero output layer makes the untrained model predict "no noise", a calm start for the MSE
        nn.init.zeros_(self.output[-1].weight)
        nn.init.zeros_(self.output[-1].bias)

    @property
    def downsampling_factor(self) -> int:
        """Returns the factor that the height and the width must be multiples of."""
        return 2 ** (self.levels - 1)

    def null_labels(self, batch: int, device: torch.device) -> torch.Tensor:
        """Returns (batch,) labels that all say "no class" (the unconditional model)."""
        return torch.full((batch,), self.num_classes, dtype=torch.long, device=device)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        factor = self.downsampling_factor
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"U-Net with {self.levels} levels needs height and width that are multiples of {factor}, "
                             f"got {tuple(x.shape[-2:])}")
        embedding = self.time_embedding(t)  # (B, E)
        if self.class_embedding is not None:
            if labels is None:
                labels = self.null_labels(x.shape[0], x.device)
            embedding = embedding + self.class_embedding(labels)
        h = self.input_conv(x)  # (B, base, H, W)
        skips = [h]
        for module in self.down:
            h = module(h, embedding) if isinstance(module, ResidualBlock) else module(h)
            skips.append(h)
        for module in self.middle:
            h = module(h, embedding) if isinstance(module, ResidualBlock) else module(h)
        for module in self.up:  # a residual block takes the skip of its level too
            h = module(torch.cat([h, skips.pop()], 1), embedding) if isinstance(module, ResidualBlock) else module(h)
        return self.output(h)  # (B, C, H, W)

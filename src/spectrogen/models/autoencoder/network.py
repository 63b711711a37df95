"""The mel autoencoder: Conv1d over time with the F*C mel bins as channels, halving (then doubling) time at each of
`blocks` levels, so T must be a multiple of 2**blocks; the variational option adds a log-variance head."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from spectrogen.errors import ConfigError


def _group_norm(channels: int) -> nn.GroupNorm:
    # per-example normalisation, so eval outputs never depend on the rest of the batch
    return nn.GroupNorm(math.gcd(channels, 8), channels)


class ResidualBlock1d(nn.Module):
    """x + conv(act(norm(conv(act(norm(x)))))) over time; keeps (B, C, T)."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.body = nn.Sequential(*[module for _ in range(2) for module in (  # norm, GELU, conv twice
            _group_norm(channels), nn.GELU(), nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # (B, C, T)


def check_autoencoder_shape(shape: tuple[int, int, int], blocks: int) -> None:
    """Raises ConfigError unless a (C, F, T) example can pass `blocks` stride-2 levels and come back."""
    channels, bins, frames = shape
    factor = 2**blocks
    if min(channels, bins, frames) < 1 or frames % factor:
        raise ConfigError(f"model.autoencoder.blocks={blocks} halves time {blocks} times, so the number of frames "
                          f"must be a multiple of {factor}, but the examples have {frames} frames (C, F, T = "
                          f"{list(shape)}, the data set's examples resized to model.image_size x model.image_width); "
                          f"lower model.autoencoder.blocks, or make the frames a multiple of {factor} "
                          f"(model.image_width, or `prepare --frames`)")


class Encoder(nn.Module):
    """Maps (B, C, F, T) spectrograms to latent means (and log-variances when variational), (B, D)."""

    def __init__(self, shape: tuple[int, int, int], hidden: int, blocks: int, latent_dim: int, variational: bool):
        super().__init__()
        channels, bins, frames = shape
        layers: list[nn.Module] = [nn.Conv1d(channels * bins, hidden, kernel_size=3, padding=1)]
        for _ in range(blocks):
            layers += [ResidualBlock1d(hidden), nn.Conv1d(hidden, hidden, kernel_size=4, stride=2, padding=1)]
        layers += [_group_norm(hidden), nn.GELU()]
        self.features = nn.Sequential(*layers)
        flat = hidden * (frames // 2**blocks)
        self.mean = nn.Linear(flat, latent_dim)
        self.log_variance = nn.Linear(flat, latent_dim) if variational else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        h = self.features(x.flatten(1, 2)).flatten(1)  # (B, C*F, T) -> (B, hidden * T / 2**blocks)
        log_variance = self.log_variance(h) if self.log_variance is not None else None
        return self.mean(h), log_variance  # (B, D), (B, D) or None


class Decoder(nn.Module):
    """Maps latent vectors (B, D) back to spectrograms (B, C, F, T), unbounded (linear output)."""

    def __init__(self, shape: tuple[int, int, int], hidden: int, blocks: int, latent_dim: int):
        super().__init__()
        self.shape = tuple(shape)
        channels, bins, frames = shape
        self.hidden = hidden
        self.start_frames = frames // 2**blocks
        self.project = nn.Linear(latent_dim, hidden * self.start_frames)
        layers: list[nn.Module] = []
        for _ in range(blocks):
            # kernel 4, stride 2, padding 1 doubles the length exactly: (T - 1) * 2 - 2 + 4 = 2T
            layers += [nn.ConvTranspose1d(hidden, hidden, kernel_size=4, stride=2, padding=1), ResidualBlock1d(hidden)]
        layers += [_group_norm(hidden), nn.GELU(), nn.Conv1d(hidden, channels * bins, kernel_size=3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], self.hidden, self.start_frames)  # (B, hidden, T / 2**blocks)
        return self.body(h).view(z.shape[0], *self.shape)  # (B, C*F, T) -> (B, C, F, T)


class MelAutoencoder(nn.Module):
    """Encoder -> latent (dropout in training) -> decoder, with an optional variational bottleneck; buffers keep
    the Gaussian fitted to the training latents (mean, Cholesky factor) that the plain autoencoder samples from."""

    def __init__(self, shape: tuple[int, int, int], *, hidden: int = 256, blocks: int = 4,
                 latent_dim: int = 128, dropout: float = 0.1, variational: bool = False):
        super().__init__()
        shape = tuple(int(s) for s in shape)
        check_autoencoder_shape(shape, blocks)
        self.shape = shape
        self.latent_dim = latent_dim
        self.variational = variational
        self.encoder = Encoder(shape, hidden, blocks, latent_dim, variational)
        self.dropout = nn.Dropout(dropout)
        self.decoder = Decoder(shape, hidden, blocks, latent_dim)
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_scale_tril", torch.eye(latent_dim))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Returns the latent mean (B, D) and log-variance (B, D) or None of spectrograms (B, C, F, T)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Returns the spectrograms (B, C, F, T) of latent vectors (B, D)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: Optional[torch.Generator] = None
                ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Returns (reconstruction (B, C, F, T), latent mean (B, D), log-variance (B, D) or None); a variational
        model decodes a reparameterised draw in training, the mean in eval mode."""
        mean, log_variance = self.encode(x)
        z = mean
        if log_variance is not None and self.training:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + noise * torch.exp(0.5 * log_variance)
        return self.decode(self.dropout(z)), mean, log_variance

    def prior_latents(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Returns `n` latent vectors (n, D): N(0, I) when variational, else the fitted Gaussian."""
        # drawn where the generator lives (often a CPU generator for fixed noise), then moved
        noise_device = generator.device if generator is not None else self.latent_mean.device
        noise = torch.randn(n, self.latent_dim, generator=generator, device=noise_device).to(self.latent_mean.device)
        return noise if self.variational else self.latent_mean + noise @ self.latent_scale_tril.T


def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """Returns KL(N(mean, exp(log_variance)) || N(0, I)) summed over latent dims, averaged over the batch (0-d)."""
    per_dim = 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance)  # (B, D), each >= 0
    return per_dim.sum(dim=1).mean()
